package starter

import (
	"bytes"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func TestModuleName(t *testing.T) {
	for file, want := range map[string]string{
		"lib/modules/6.1.0-57-amd64/kernel/drivers/block/virtio_blk.ko":     "virtio_blk",
		"lib/modules/6.12.9-amd64/kernel/drivers/net/virtio_net.ko.xz":      "virtio_net",
		"lib/modules/6.12.9-amd64/kernel/drivers/virtio/virtio-pci.ko.zst":  "virtio_pci",
		"lib/modules/6.1.0-57-amd64/modules.builtin":                        "",
		"lib/modules/6.1.0-57-amd64/kernel/drivers/block/virtio_blk.ko.bz2": "",
	} {
		if got := moduleName(file); got != want {
			t.Errorf("moduleName(%s) = %q, want %q", file, got, want)
		}
	}
	if !isModuleCandidate("lib/modules/6.1.0-57-amd64/kernel/net/core/failover.ko") || isModuleCandidate("boot/vmlinuz-6.1.0-57-amd64") ||
		isModuleCandidate("lib/modules/6.1.0-57-amd64/kernel/fs/ext4/ext4.ko") {
		t.Error("isModuleCandidate keeps the wrong files")
	}
}

// Newer Debian kernels compress their modules; busybox insmod needs them
// plain.
func TestDecompressModule(t *testing.T) {
	obj := bytes.Repeat([]byte("\x7fELF module body "), 1000)
	var xzBuf, zstBuf bytes.Buffer
	xw, err := xz.NewWriter(&xzBuf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xw.Write(obj); err != nil || xw.Close() != nil {
		t.Fatal(err)
	}
	zw, err := zstd.NewWriter(&zstBuf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(obj); err != nil || zw.Close() != nil {
		t.Fatal(err)
	}
	for file, data := range map[string][]byte{"m.ko": obj, "m.ko.xz": xzBuf.Bytes(), "m.ko.zst": zstBuf.Bytes()} {
		got, err := decompressModule(file, data)
		if err != nil || !bytes.Equal(got, obj) {
			t.Errorf("%s: %d bytes, %v; want the %d plain bytes", file, len(got), err, len(obj))
		}
	}
	if _, err := decompressModule("m.ko.gz", obj); err == nil {
		t.Error("a gzipped module was taken as it is")
	}
	if _, err := decompressModule("m.ko.xz", obj); err == nil {
		t.Error("a module that is no xz stream decompressed")
	}
}

// A module the package lacks is named in the error, with who needs it.
func TestLoadOrderMissing(t *testing.T) {
	_, err := loadOrder(map[string][]byte{}, []string{"virtio_blk"})
	if err == nil || !strings.Contains(err.Error(), "lacks module virtio_blk (needed by the guest)") {
		t.Fatalf("err = %v", err)
	}
}
