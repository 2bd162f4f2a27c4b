package hvtest

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGuestFiles checks the guest's files: a kernel, and an initramfs the
// standard cpio tool lists with everything the kernel needs in it.
func TestGuestFiles(t *testing.T) {
	kernel, initrd := Guest(t)
	if fi, err := os.Stat(kernel); err != nil || fi.Size() < 1<<20 {
		t.Fatalf("kernel %s: %v (size %d)", kernel, err, sizeOf(fi))
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	f, err := os.Open(initrd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command("cpio", "-itv", "--quiet")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = zr, &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, stderr.String())
	}
	listing := out.String()
	for _, want := range []string{"init", "bin/busybox", "bin/sh -> busybox", "dev/console",
		"lib/modules/virtio_pci.ko", "lib/modules/virtio_blk.ko", "lib/modules/virtio_net.ko", "lib/modules/modules.order"} {
		if !strings.Contains(listing, want) {
			t.Errorf("initramfs lacks %q:\n%s", want, listing)
		}
	}
	if !strings.Contains(listing, "crw-------") {
		t.Errorf("dev/console is not a character device:\n%s", listing)
	}

	// A second call reuses the cached files.
	k2, i2 := Guest(t)
	if k2 != kernel || i2 != initrd {
		t.Errorf("second Guest() = %s, %s; want %s, %s", k2, i2, kernel, initrd)
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}
