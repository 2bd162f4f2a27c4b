package hypervisor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

const mib = 1 << 20

// TestVolumes goes through a disk's life: an image is uploaded, a guest
// disk cloned from it, grown, listed and deleted, each step done twice as a
// retried job would.
func TestVolumes(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	uri := d.URI()
	for _, p := range []string{"images", "disks"} {
		if err := m.EnsureDirPool(ctx, uri, p, poolDir(d, p)); err != nil {
			t.Fatal(err)
		}
	}

	image := qemuImg(t, "create", "-f", "qcow2", "-o", "compat=1.1", filepath.Join(t.TempDir(), "base.qcow2"), "32M")
	for range 2 { // a second upload replaces the first
		uploadFile(t, m, uri, "images", "base", "qcow2", image)
	}
	base, err := m.VolumeInfo(ctx, uri, "images", "base")
	if err != nil {
		t.Fatal(err)
	}
	if base.Format != "qcow2" || base.CapacityBytes != 32*mib || base.BackingPath != "" {
		t.Errorf("uploaded image: %+v, want qcow2 of 32 MiB without backing file", base)
	}

	// Clone: created once, found the second time.
	ref := &hypervisor.VolumeRef{Pool: "images", Name: "base"}
	var disk hypervisor.VolumeInfo
	for range 2 {
		if disk, err = m.CreateDiskVolume(ctx, uri, "disks", "vm1", 64*mib, ref); err != nil {
			t.Fatal(err)
		}
	}
	if disk.Format != "qcow2" || disk.CapacityBytes != 64*mib || disk.BackingPath != base.Path {
		t.Errorf("disk: %+v, want qcow2 of 64 MiB backed by %s", disk, base.Path)
	}
	info := imageInfo(t, disk.Path)
	if info.Format != "qcow2" || info.Specific.Data.Compat != "1.1" {
		t.Errorf("qemu-img info: format %q compat %q, want qcow2 compat 1.1", info.Format, info.Specific.Data.Compat)
	}
	if info.BackingFilename != base.Path || info.BackingFormat != "qcow2" || info.VirtualSize != 64*mib {
		t.Errorf("qemu-img info: backing %q (%s), size %d; want %s (qcow2), %d",
			info.BackingFilename, info.BackingFormat, info.VirtualSize, base.Path, 64*mib)
	}

	// Size 0 means the image's size; smaller than the image is refused.
	if v, err := m.CreateDiskVolume(ctx, uri, "disks", "vm2", 0, ref); err != nil || v.CapacityBytes != 32*mib {
		t.Errorf("clone of image size: %+v, %v", v, err)
	}
	if _, err := m.CreateDiskVolume(ctx, uri, "disks", "vm3", 16*mib, ref); err == nil {
		t.Error("clone smaller than its image was created")
	}
	// An empty disk, not backed by anything; qcow2 v3 as well.
	blank, err := m.CreateDiskVolume(ctx, uri, "disks", "blank", 8*mib, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info := imageInfo(t, blank.Path); info.Specific.Data.Compat != "1.1" || info.BackingFilename != "" {
		t.Errorf("blank disk: compat %q backing %q", info.Specific.Data.Compat, info.BackingFilename)
	}

	// Grow (twice: the second is a no-op), then refuse to shrink.
	for range 2 {
		if err := m.ResizeVolume(ctx, uri, "disks", "vm1", 128*mib); err != nil {
			t.Fatal(err)
		}
	}
	if got := imageInfo(t, disk.Path).VirtualSize; got != 128*mib {
		t.Errorf("size after resize = %d, want %d", got, 128*mib)
	}
	err = m.ResizeVolume(ctx, uri, "disks", "vm1", 64*mib)
	if !errors.Is(err, hypervisor.ErrShrink) {
		t.Errorf("shrink: %v, want ErrShrink", err)
	}
	// Sizes are rounded to sectors, so an odd size is stable too.
	for range 2 {
		if err := m.ResizeVolume(ctx, uri, "disks", "vm1", 128*mib+1); err != nil {
			t.Fatal(err)
		}
	}

	vols, err := m.ListVolumes(ctx, uri, "disks")
	if err != nil {
		t.Fatal(err)
	}
	if names := volumeNames(vols); strings.Join(names, ",") != "blank,vm1,vm2" {
		t.Errorf("volumes = %v, want blank, vm1, vm2", names)
	}

	for _, name := range []string{"vm1", "vm2", "blank"} {
		for range 2 {
			if err := m.DeleteVolume(ctx, uri, "disks", name); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := m.VolumeInfo(ctx, uri, "disks", "vm1"); !hypervisor.IsNotFound(err) {
		t.Errorf("VolumeInfo of a deleted volume: %v, want not found", err)
	}
	if out := virsh(t, uri, "vol-list", "disks"); strings.Contains(out, "vm1") {
		t.Errorf("virsh still lists vm1:\n%s", out)
	}
	if _, err := os.Stat(disk.Path); !os.IsNotExist(err) {
		t.Errorf("file %s still there: %v", disk.Path, err)
	}
	if err := m.DeleteVolume(ctx, uri, "nosuchpool", "x"); err == nil {
		t.Error("DeleteVolume in a missing pool succeeded")
	}
}

// TestUploads checks that an upload stores exactly what was sent and that
// failed or dangerous uploads leave no volume behind.
func TestUploads(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	uri := d.URI()
	if err := m.EnsureDirPool(ctx, uri, "images", poolDir(d, "images")); err != nil {
		t.Fatal(err)
	}

	// A seed ISO, as UploadSeed stores it: byte for byte.
	iso, err := hypervisor.BuildSeedISO(testSeed())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := m.UploadSeed(ctx, uri, "images", "seed.iso", iso); err != nil {
			t.Fatal(err)
		}
	}
	seed, err := m.VolumeInfo(ctx, uri, "images", "seed.iso")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(seed.Path); err != nil || !bytes.Equal(got, iso) {
		t.Errorf("uploaded ISO differs from the original (%d vs %d bytes, %v)", len(got), len(iso), err)
	}
	if seed.Format != "raw" || seed.CapacityBytes != uint64(len(iso)) {
		t.Errorf("seed volume: %+v", seed)
	}

	// Larger than one stream packet (4 MiB), so that it takes several.
	big := bytes.Repeat([]byte("allmende"), 5*mib/8+3)
	if err := m.UploadVolume(ctx, uri, "images", "big.raw", "raw", uint64(len(big)), bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if v, err := m.VolumeInfo(ctx, uri, "images", "big.raw"); err != nil {
		t.Fatal(err)
	} else if got, err := os.ReadFile(v.Path); err != nil || !bytes.Equal(got, big) {
		t.Errorf("uploaded file differs (%d vs %d bytes, %v)", len(got), len(big), err)
	}

	failures := map[string]func() error{
		"short": func() error {
			return m.UploadVolume(ctx, uri, "images", "bad", "raw", 4096, bytes.NewReader(make([]byte, 1000)))
		},
		"long": func() error {
			return m.UploadVolume(ctx, uri, "images", "bad", "raw", 1000, bytes.NewReader(make([]byte, 4096)))
		},
		"read error": func() error {
			r := io.MultiReader(bytes.NewReader(make([]byte, 1000)), iotest.ErrReader(errors.New("disk on fire")))
			return m.UploadVolume(ctx, uri, "images", "bad", "raw", 4096, r)
		},
		"backing file": func() error {
			dir := t.TempDir()
			qemuImg(t, "create", "-f", "raw", filepath.Join(dir, "secret"), "1M")
			img := qemuImg(t, "create", "-f", "qcow2", "-b", filepath.Join(dir, "secret"), "-F", "raw", filepath.Join(dir, "evil.qcow2"))
			return uploadFileErr(ctx, m, uri, "images", "bad", "qcow2", img)
		},
	}
	failures["cancelled"] = func() error {
		// The reader never delivers: only the context can end the stream.
		r, w := io.Pipe()
		defer w.Close()
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := m.UploadVolume(short, uri, "images", "bad", "raw", 4096, r)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cancelled upload: %v, want deadline exceeded", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("cancelled upload took %s to return", took)
		}
		return err
	}
	for name, upload := range failures {
		if err := upload(); err == nil {
			t.Errorf("%s upload succeeded", name)
		} else {
			t.Logf("%s upload: %v", name, err)
		}
		if _, err := m.VolumeInfo(ctx, uri, "images", "bad"); !hypervisor.IsNotFound(err) {
			t.Errorf("after the %s upload the volume is still there (%v)", name, err)
		}
	}
}

// qemuImg runs qemu-img and returns the last argument naming a file, for
// "create".
func qemuImg(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for i := len(args) - 1; i >= 0; i-- {
		if strings.HasPrefix(args[i], "/") {
			return args[i]
		}
	}
	return ""
}

type qemuImageInfo struct {
	Format          string `json:"format"`
	VirtualSize     uint64 `json:"virtual-size"`
	BackingFilename string `json:"backing-filename"`
	BackingFormat   string `json:"backing-filename-format"`
	Specific        struct {
		Data struct {
			Compat string `json:"compat"`
		} `json:"data"`
	} `json:"format-specific"`
}

func imageInfo(t *testing.T, path string) qemuImageInfo {
	t.Helper()
	// -U: do not take QEMU's image lock, in case a guest has it open.
	out, err := exec.Command("qemu-img", "info", "-U", "--output=json", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var info qemuImageInfo
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func uploadFile(t *testing.T, m *hypervisor.Manager, uri, pool, name, format, path string) {
	t.Helper()
	if err := uploadFileErr(testContext(t), m, uri, pool, name, format, path); err != nil {
		t.Fatal(err)
	}
}

func uploadFileErr(ctx context.Context, m *hypervisor.Manager, uri, pool, name, format, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return m.UploadVolume(ctx, uri, pool, name, format, uint64(fi.Size()), f)
}

func volumeNames(vols []hypervisor.VolumeInfo) []string {
	names := make([]string, len(vols))
	for i, v := range vols {
		names[i] = v.Name
	}
	return names
}
