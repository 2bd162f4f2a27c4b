package compute_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

func TestImagesRegisterAndUpload(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		_, memberV := e.member(t, "m@example.org")

		_, err := e.images.Register(ctx, e.admin, e.adminV, compute.ImageInput{Name: "", HostID: "nope", Pool: "../x", Volume: "a/b", Format: "vmdk"})
		for _, f := range []string{"name", "host_id", "pool", "volume", "format", "virtual_size_bytes"} {
			modelstest.FieldErr(t, err, f)
		}
		_, err = e.images.Register(ctx, e.admin, e.adminV, compute.ImageInput{Name: "Debian-13", HostID: e.host.ID, Pool: "default",
			Volume: "other.qcow2", Format: "qcow2", VirtualSizeBytes: 1})
		modelstest.FieldErr(t, err, "name")
		_, err = e.images.Register(ctx, e.admin, memberV, compute.ImageInput{})
		modelstest.WantCode(t, err, http.StatusForbidden)

		jobsBefore := modelstest.Count(t, db, "river_job", "kind = 'image.import'")
		img, err := e.images.BeginUpload(ctx, e.admin, e.adminV, compute.UploadInput{
			Name: "alpine", HostID: e.host.ID, Pool: "default", Format: "qcow2", Path: "/data/uploads/x.qcow2"})
		if err != nil {
			t.Fatal(err)
		}
		if img.Status != compute.ImageUploading || img.Volume != "allmende-image-"+img.ID {
			t.Errorf("uploaded image = %+v", img)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = 'image.import'"); n != jobsBefore+1 {
			t.Errorf("import jobs = %d, want %d", n, jobsBefore+1)
		}
		if _, err := e.images.Get(ctx, memberV, img.ID); err == nil {
			t.Error("member sees an image still uploading")
		}
		view, err := e.images.ForImport(ctx, img.ID)
		if err != nil || view.HostURI != e.host.URI {
			t.Fatalf("import view = %+v, %v", view, err)
		}
		if err := e.images.MarkReady(ctx, img.ID, 3<<30); err != nil {
			t.Fatal(err)
		}
		got, err := e.images.Get(ctx, memberV, img.ID)
		if err != nil || got.VirtualSizeBytes != 3<<30 {
			t.Fatalf("ready image = %+v, %v", got, err)
		}

		failed, err := e.images.BeginUpload(ctx, e.admin, e.adminV, compute.UploadInput{
			Name: "broken", HostID: e.host.ID, Pool: "default", Format: "raw", Path: "/data/uploads/y.raw"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.images.MarkFailed(ctx, failed.ID, errors.New("not a disk image")); err != nil {
			t.Fatal(err)
		}
		all, err := e.images.List(ctx, e.adminV)
		if err != nil || len(all) != 3 {
			t.Fatalf("admin images = %d, %v", len(all), err)
		}
		ready, err := e.images.List(ctx, memberV)
		if err != nil || len(ready) != 2 {
			t.Fatalf("member images = %d, %v", len(ready), err)
		}
		if _, err := e.images.Delete(ctx, e.admin, e.adminV, failed.ID); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "images", "id = ?", failed.ID); n != 0 {
			t.Error("unused image not deleted")
		}
	})
}

// An image may boot VMs by direct kernel boot: the kernel and initrd
// volumes are names in the image's pool, the command line printable and
// bounded, and both reach the VM workers through ForJob.
func TestImagesKernelBoot(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		base := compute.ImageInput{Name: "guest", HostID: e.host.ID, Pool: "default", Volume: "guest.qcow2",
			Format: "qcow2", VirtualSizeBytes: 1 << 30}
		with := func(kernel, initrd, cmdline string) compute.ImageInput {
			in := base
			in.KernelVolume, in.InitrdVolume, in.KernelCmdline = kernel, initrd, cmdline
			return in
		}
		for _, c := range []struct {
			name  string
			in    compute.ImageInput
			field string
		}{
			{"kernel path", with("../vmlinuz", "", ""), "kernel_volume"},
			{"initrd path", with("vmlinuz", "/boot/initrd", ""), "initrd_volume"},
			{"initrd without kernel", with("", "initrd.gz", ""), "initrd_volume"},
			{"cmdline without kernel", with("", "", "console=ttyS0"), "kernel_cmdline"},
			{"cmdline with newline", with("vmlinuz", "", "console=ttyS0\ninit=/bin/sh"), "kernel_cmdline"},
			{"cmdline with control", with("vmlinuz", "", "console=ttyS0\x00"), "kernel_cmdline"},
			{"cmdline not ASCII", with("vmlinuz", "", "root=/dev/vda quiet=ü"), "kernel_cmdline"},
			{"cmdline too long", with("vmlinuz", "", strings.Repeat("a", compute.MaxKernelCmdline+1)), "kernel_cmdline"},
			{"kernel is the disk", with("guest.qcow2", "", ""), "volume"},
		} {
			_, err := e.images.Register(ctx, e.admin, e.adminV, c.in)
			if err == nil {
				t.Errorf("%s: registered", c.name)
				continue
			}
			if de, ok := models.AsError(err); !ok || de.Fields[c.field] == "" {
				t.Errorf("%s: want an error on %s, got %v", c.name, c.field, err)
			}
		}
		if n := modelstest.Count(t, db, "images", "name = 'guest'"); n != 0 {
			t.Fatalf("%d invalid images stored", n)
		}

		// Exactly at the limit is fine; surrounding spaces are trimmed.
		in := with(" vmlinuz ", "initrd.gz", " console=ttyS0 "+strings.Repeat("x", compute.MaxKernelCmdline-14)+" ")
		img, err := e.images.Register(ctx, e.admin, e.adminV, in)
		if err != nil {
			t.Fatal(err)
		}
		if img.KernelVolume != "vmlinuz" || img.InitrdVolume != "initrd.gz" || len(img.KernelCmdline) != compute.MaxKernelCmdline {
			t.Errorf("registered image = %+v", img)
		}
		got, err := e.images.Get(ctx, e.adminV, img.ID)
		if err != nil || got.KernelVolume != "vmlinuz" || got.InitrdVolume != "initrd.gz" || got.KernelCmdline != img.KernelCmdline {
			t.Fatalf("stored image = %+v, %v", got, err)
		}

		// A kernel alone (no initrd, no command line) is enough.
		other := base
		other.Name, other.Volume, other.KernelVolume = "bare", "bare.qcow2", "vmlinuz"
		if _, err := e.images.Register(ctx, e.admin, e.adminV, other); err != nil {
			t.Fatal(err)
		}

		m, mv := e.member(t, "k@example.org")
		vm, _, err := e.vms.Create(ctx, m, mv, compute.VMInput{Name: "kb", PlanID: e.plan.ID, ImageID: img.ID})
		if err != nil {
			t.Fatal(err)
		}
		j, err := e.vms.ForJob(ctx, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.KernelVolume != "vmlinuz" || j.InitrdVolume != "initrd.gz" || j.KernelCmdline != img.KernelCmdline || j.ImagePool != "default" {
			t.Errorf("job view: kernel %q initrd %q cmdline %q pool %q", j.KernelVolume, j.InitrdVolume, j.KernelCmdline, j.ImagePool)
		}
		plain, err := e.vms.ForJob(ctx, e.create(t, m, mv, "plain").ID)
		if err != nil || plain.KernelVolume != "" || plain.InitrdVolume != "" || plain.KernelCmdline != "" {
			t.Errorf("job view of a disk-booted VM: %+v, %v", plain, err)
		}
	})
}

// Kernels and initrds are uploaded as images of their kind, which disk
// uploads boot; members are offered disks only.
func TestImageUploadKinds(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		m, memberV := e.member(t, "m@example.org")
		up := func(in compute.UploadInput) (*compute.Image, error) {
			in.HostID, in.Path = e.host.ID, "/data/uploads/"+in.Name
			if in.Pool == "" {
				in.Pool = "default"
			}
			return e.images.BeginUpload(ctx, e.admin, e.adminV, in)
		}
		ready := func(img *compute.Image) {
			t.Helper()
			if err := e.images.MarkReady(ctx, img.ID, 1<<20); err != nil {
				t.Fatal(err)
			}
		}
		_, err := up(compute.UploadInput{Name: "odd", Format: "raw", Kind: "firmware"})
		modelstest.FieldErr(t, err, "kind")
		_, err = up(compute.UploadInput{Name: "k0", Format: "raw", Kind: compute.ImageKernel, KernelCmdline: "console=ttyS0"})
		modelstest.FieldErr(t, err, "kind")

		kernel, err := up(compute.UploadInput{Name: "vmlinuz", Format: "qcow2", Kind: compute.ImageKernel})
		if err != nil {
			t.Fatal(err)
		}
		if kernel.Format != compute.FormatRaw || kernel.Kind != compute.ImageKernel {
			t.Errorf("kernel upload = %+v", kernel)
		}
		initrd, err := up(compute.UploadInput{Name: "initrd", Format: "raw", Kind: compute.ImageInitrd})
		if err != nil {
			t.Fatal(err)
		}
		elsewhere, err := up(compute.UploadInput{Name: "vmlinuz-other", Format: "raw", Kind: compute.ImageKernel, Pool: "other"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			in    compute.UploadInput
			field string
		}{
			{compute.UploadInput{KernelImageID: initrd.ID}, "kernel_image_id"},
			{compute.UploadInput{KernelImageID: elsewhere.ID}, "kernel_image_id"},
			{compute.UploadInput{InitrdImageID: initrd.ID}, "initrd_image_id"},
			{compute.UploadInput{KernelCmdline: "console=ttyS0"}, "kernel_cmdline"},
			{compute.UploadInput{KernelImageID: kernel.ID, KernelCmdline: "a\nb"}, "kernel_cmdline"},
		} {
			c.in.Name, c.in.Format = "bad-disk", "qcow2"
			_, err := up(c.in)
			modelstest.FieldErr(t, err, c.field)
		}
		disk, err := up(compute.UploadInput{Name: "tiny", Format: "raw", KernelImageID: kernel.ID, InitrdImageID: initrd.ID,
			KernelCmdline: "console=ttyS0"})
		if err != nil {
			t.Fatal(err)
		}
		if disk.Kind != compute.ImageDisk || disk.KernelVolume != kernel.Volume || disk.InitrdVolume != initrd.Volume || disk.KernelCmdline != "console=ttyS0" {
			t.Errorf("disk upload = %+v", disk)
		}
		for _, img := range []*compute.Image{kernel, initrd, disk} {
			ready(img)
		}
		list, err := e.images.List(ctx, memberV)
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range list {
			if img.Kind != compute.ImageDisk {
				t.Errorf("members are offered %s image %s", img.Kind, img.Name)
			}
		}
		if _, err := e.images.Get(ctx, memberV, kernel.ID); err == nil {
			t.Error("a member reads a kernel image")
		}
		_, _, err = e.vms.Create(ctx, m, memberV, compute.VMInput{Name: "k", PlanID: e.plan.ID, ImageID: kernel.ID})
		if err == nil {
			t.Error("a VM made from a kernel image")
		}
		if all, _ := e.images.List(ctx, e.adminV); len(all) < 4 {
			t.Errorf("admins see %d images", len(all))
		}
	})
}
