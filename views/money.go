package views

import "fmt"

// MiB formats a memory size given in MiB, as entitlements count memory, in
// whole GiB where it divides.
func MiB(n int) string {
	if n != 0 && n%1024 == 0 {
		return fmt.Sprintf("%d GiB", n/1024)
	}
	return fmt.Sprintf("%d MiB", n)
}
