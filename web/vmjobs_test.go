package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"allmende/e2e/crash"
	"allmende/models/compute"
	"allmende/web"
)

// vmFixture prepares a real portal (private libvirtd, TCG) for VM jobs and
// returns it with its configuration and base URL.
func vmFixture(t *testing.T) (*crash.Fixture, *web.Config, string) {
	t.Helper()
	return vmFixtureWith(t, nil)
}

// vmFixtureWith is vmFixture with a change to the configuration.
func vmFixtureWith(t *testing.T, edit func(*web.Config)) (*crash.Fixture, *web.Config, string) {
	t.Helper()
	_, base, cfg := startServerWith(t, "auto", edit)
	// QEMU runs as libvirt-qemu and must reach the pool below the data
	// dir, which the portal creates 0700 (reported: serve --libvirt auto
	// cannot start VMs in a 0700 data dir).
	if err := os.Chmod(cfg.DataDir, 0o711); err != nil {
		t.Fatal(err)
	}
	f, err := crash.Setup(context.Background(), cfg.Database, cfg.DataDir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	// The image came in through the image.import worker, which removes
	// the spooled upload once the volume is in the pool.
	if left, _ := filepath.Glob(filepath.Join(cfg.DataDir, "uploads", "*")); len(left) != 0 {
		t.Errorf("uploads left after import: %v", left)
	}
	if f.Image.VirtualSizeBytes != crash.ImageBytes {
		t.Errorf("imported image's virtual size %d, want %d", f.Image.VirtualSizeBytes, crash.ImageBytes)
	}
	return f, cfg, base
}

func virsh(t *testing.T, uri string, args ...string) string {
	t.Helper()
	out, err := crash.Virsh(uri, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runTask starts an action and waits for its task to succeed.
func runTask(t *testing.T, f *crash.Fixture, what string, start func() (*compute.Task, error)) *compute.TaskDetail {
	t.Helper()
	task, err := start()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	done, err := f.WaitTask(context.Background(), task.ID, 90*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if done.Status != compute.TaskSucceeded {
		t.Fatalf("%s: task %s: %s (%s); log: %s", what, done.Status, done.Error, done.Kind, crash.TaskLog(done))
	}
	return done
}

func wantVM(t *testing.T, f *crash.Fixture, id string, state compute.VMState) {
	t.Helper()
	vm, err := f.VMs.Get(context.Background(), f.AdminViewer, id)
	if err != nil {
		t.Fatal(err)
	}
	if vm.State != state {
		t.Fatalf("vm state %s (%s), want %s", vm.State, vm.StateReason, state)
	}
}

func wantDomState(t *testing.T, uri, dom, want string) {
	t.Helper()
	if got := strings.TrimSpace(virsh(t, uri, "domstate", dom)); got != want {
		t.Fatalf("virsh domstate %s = %q, want %q", dom, got, want)
	}
}

// The VM workers drive a real libvirtd through a VM's whole life; every
// outcome is checked in libvirt (virsh, qemu-img), not only in the database.
func TestVMJobsLifecycle(t *testing.T) {
	f, _, _ := vmFixture(t)
	ctx := context.Background()
	uri := f.Host.URI

	vm, task, err := f.CreateVM(ctx, "web-1", f.Small)
	if err != nil {
		t.Fatal(err)
	}
	done, err := f.WaitTask(ctx, task.ID, 90*time.Second)
	if err != nil || done.Status != compute.TaskSucceeded {
		t.Fatalf("create: %v %+v", err, done)
	}
	log := crash.TaskLog(done)
	for _, step := range []string{"creating disk volume", "uploading cloud-init seed", "defining domain", "starting", "running"} {
		if !strings.Contains(log, step) {
			t.Errorf("create log lacks %q: %s", step, log)
		}
	}
	wantVM(t, f, vm.ID, compute.VMRunning)
	dom := vm.DomainName()
	wantDomState(t, uri, dom, "running")
	xml := virsh(t, uri, "dumpxml", dom)
	for _, want := range []string{"<domain type='qemu'", "<memory unit='KiB'>131072</memory>", "bus='virtio'", "device='cdrom'",
		"type='qcow2'", vm.ID} {
		if !strings.Contains(xml, want) {
			t.Errorf("domain XML lacks %q", want)
		}
	}
	vols := virsh(t, uri, "vol-list", "default")
	for _, v := range []string{vm.DiskVolume(), vm.SeedVolume()} {
		if !strings.Contains(vols, v) {
			t.Errorf("volume %s missing:\n%s", v, vols)
		}
	}

	runTask(t, f, "reboot", func() (*compute.Task, error) { return f.VMs.Reboot(ctx, f.Member, f.MemberViewer, vm.ID) })
	wantVM(t, f, vm.ID, compute.VMRunning)
	wantDomState(t, uri, dom, "running")

	runTask(t, f, "poweroff", func() (*compute.Task, error) { return f.VMs.PowerOff(ctx, f.Member, f.MemberViewer, vm.ID) })
	wantVM(t, f, vm.ID, compute.VMStopped)
	wantDomState(t, uri, dom, "shut off")

	runTask(t, f, "start", func() (*compute.Task, error) { return f.VMs.Start(ctx, f.Member, f.MemberViewer, vm.ID) })
	wantVM(t, f, vm.ID, compute.VMRunning)
	wantDomState(t, uri, dom, "running")

	// The empty disk boots nothing, so nothing answers ACPI: the shutdown
	// powers the VM off after its timeout, and says so.
	if err := f.VMs.SetShutdownTimeout(ctx, f.Member, f.MemberViewer, vm.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	done = runTask(t, f, "shutdown", func() (*compute.Task, error) { return f.VMs.Shutdown(ctx, f.Member, f.MemberViewer, vm.ID) })
	if took := time.Since(began); took < 10*time.Second {
		t.Errorf("shutdown powered off after %s, before the 10 s timeout", took)
	}
	log = crash.TaskLog(done)
	if !strings.Contains(log, "ACPI") || !strings.Contains(log, "did not shut down within 10s; powering off") {
		t.Errorf("shutdown log: %s", log)
	}
	wantVM(t, f, vm.ID, compute.VMStopped)
	wantDomState(t, uri, dom, "shut off")

	// Resize while stopped: vCPUs and memory in the definition, the disk
	// grown on the host.
	runTask(t, f, "resize", func() (*compute.Task, error) {
		return f.VMs.Resize(ctx, f.Member, f.MemberViewer, vm.ID, f.Large.ID)
	})
	wantVM(t, f, vm.ID, compute.VMStopped)
	info := virsh(t, uri, "dominfo", dom)
	if !regexp.MustCompile(`Max memory:\s+196608 KiB`).MatchString(info) || !regexp.MustCompile(`CPU\(s\):\s+2`).MatchString(info) {
		t.Errorf("dominfo after resize:\n%s", info)
	}
	path := strings.TrimSpace(virsh(t, uri, "vol-path", "--pool", "default", vm.DiskVolume()))
	out, err := exec.Command("qemu-img", "info", "--force-share", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "virtual size: 2 GiB") {
		t.Errorf("qemu-img info after resize: %v\n%s", err, out)
	}

	// The reconciler reports a domain it does not know and leaves it be,
	// and finds the VM's domain gone when someone undefines it behind the
	// portal's back; reprovisioning makes it again, keeping the disk.
	orphan := "allmende-00000000-0000-4000-8000-000000000001"
	def := filepath.Join(t.TempDir(), "orphan.xml")
	if err := os.WriteFile(def, []byte("<domain type='qemu'><name>"+orphan+"</name><memory unit='MiB'>32</memory>"+
		"<os><type arch='x86_64'>hvm</type></os></domain>"), 0o644); err != nil {
		t.Fatal(err)
	}
	virsh(t, uri, "define", def)
	virsh(t, uri, "undefine", dom)
	if err := f.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := f.VMs.Drift(ctx, f.AdminViewer)
		if err != nil {
			t.Fatal(err)
		}
		orphaned := false
		for _, r := range d.Reports {
			orphaned = orphaned || (r.Kind == compute.DriftOrphan && r.DomainName == orphan)
		}
		if orphaned && len(d.Missing) == 1 && d.Missing[0].ID == vm.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reconciler did not report the orphan and the missing VM: %+v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if list := virsh(t, uri, "list", "--all", "--name"); !strings.Contains(list, orphan) {
		t.Errorf("the reconciler removed a domain it does not know:\n%s", list)
	}
	virsh(t, uri, "undefine", orphan)
	runTask(t, f, "reprovision", func() (*compute.Task, error) { return f.VMs.Reprovision(ctx, f.Member, f.MemberViewer, vm.ID) })
	wantVM(t, f, vm.ID, compute.VMRunning)
	wantDomState(t, uri, dom, "running")
	if out := virsh(t, uri, "vol-info", "--pool", "default", vm.DiskVolume()); !regexp.MustCompile(`Capacity:\s+2\.00 GiB`).MatchString(out) {
		t.Errorf("reprovisioned disk:\n%s", out)
	}

	runTask(t, f, "delete", func() (*compute.Task, error) { return f.VMs.Delete(ctx, f.Member, f.MemberViewer, vm.ID, "web-1") })
	wantVM(t, f, vm.ID, compute.VMDeleted)
	if list := virsh(t, uri, "list", "--all", "--name"); strings.Contains(list, dom) {
		t.Errorf("domain left after delete:\n%s", list)
	}
	vols = virsh(t, uri, "vol-list", "default")
	if strings.Contains(vols, vm.DiskVolume()) || strings.Contains(vols, vm.SeedVolume()) {
		t.Errorf("volumes left after delete:\n%s", vols)
	}
}
