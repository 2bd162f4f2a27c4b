package membership

import "testing"

func TestValidIBAN(t *testing.T) {
	for in, want := range map[string]bool{
		"DE89 3704 0044 0532 0130 00":   true,
		"de89370400440532013000":        true,
		"GB82 WEST 1234 5698 7654 32":   true,
		"NL91ABNA0417164300":            true,
		"DE89 3704 0044 0532 0130 01":   false, // checksum
		"DE8937040044053201300":         false, // checksum, one digit short
		"D189370400440532013000":        false,
		"DE89-3704-0044-0532-0130-00":   false,
		"":                              false,
		"DE00 0000 0000 0000 0000 0000": false,
	} {
		if got := validIBAN(normalizeIBAN(in)); got != want {
			t.Errorf("validIBAN(%q) = %v, want %v", in, got, want)
		}
	}
}
