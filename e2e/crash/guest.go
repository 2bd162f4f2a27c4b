package crash

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"allmende/hypervisor"
	"allmende/models/compute"
)

// GuestDiskBytes is the virtual size of a guest image's disk. The guest
// runs from its initramfs and never touches the disk, which is there
// because every VM has one.
const GuestDiskBytes = 16 << 20

// AddGuestImage makes an image that boots a real guest by direct kernel
// boot, so that a VM made from it talks on its console without anything
// downloaded: it uploads kernel and initrd (e.g. from hvtest.Guest) and a
// small empty qcow2 disk into the host's pool "default" and registers them
// as image name, as an admin would with the register form.
func (f *Fixture) AddGuestImage(ctx context.Context, name, kernel, initrd, cmdline string) (*compute.Image, error) {
	hv := hypervisor.NewManager(slog.New(slog.DiscardHandler))
	defer hv.Close()
	dir, err := os.MkdirTemp("", "alm-guest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	disk := filepath.Join(dir, "disk.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", disk, fmt.Sprint(GuestDiskBytes)).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("qemu-img: %v: %s", err, out)
	}
	vols := map[string]struct{ path, format string }{
		name + "-vmlinuz":    {kernel, compute.FormatRaw},
		name + "-initrd":     {initrd, compute.FormatRaw},
		name + "-disk.qcow2": {disk, compute.FormatQCOW2},
	}
	for vol, src := range vols {
		if err := upload(ctx, hv, f.Host.URI, vol, src.path, src.format); err != nil {
			return nil, err
		}
	}
	img, err := f.Images.Register(ctx, f.Admin, f.AdminViewer, compute.ImageInput{Name: name, HostID: f.Host.ID, Pool: "default",
		Volume: name + "-disk.qcow2", Format: compute.FormatQCOW2, VirtualSizeBytes: GuestDiskBytes,
		KernelVolume: name + "-vmlinuz", InitrdVolume: name + "-initrd", KernelCmdline: cmdline})
	if err != nil {
		return nil, fmt.Errorf("register guest image: %w", err)
	}
	return img, nil
}

func upload(ctx context.Context, hv *hypervisor.Manager, uri, vol, path, format string) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return err
	}
	return hv.UploadVolume(ctx, uri, "default", vol, format, uint64(fi.Size()), file)
}
