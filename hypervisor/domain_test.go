package hypervisor_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// TestDomainLifecycle takes a guest with a cloned disk and a seed CD-ROM
// through define, start, resize, stop and removal, calling every operation
// twice (as a retried job would) and checking the outcome with virsh.
func TestDomainLifecycle(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	uri := d.URI()
	if err := m.EnsureDirPool(ctx, uri, "vms", poolDir(d, "vms")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateDiskVolume(ctx, uri, "vms", "disk", 16*mib, nil); err != nil {
		t.Fatal(err)
	}
	iso, err := hypervisor.BuildSeedISO(testSeed())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.UploadSeed(ctx, uri, "vms", "seed", iso); err != nil {
		t.Fatal(err)
	}

	spec := hypervisor.DomainSpec{
		Name:      "allmende-" + uuid.NewString(),
		UUID:      uuid.NewString(),
		Type:      "qemu",
		VCPUs:     1,
		MemoryMiB: 64,
		Disks: []hypervisor.DiskSpec{
			{Pool: "vms", Volume: "disk", Format: "qcow2"},
			{Pool: "vms", Volume: "seed", Device: "cdrom", Format: "raw"},
		},
		Description: "allmende vm test",
	}
	name := spec.Name
	twice(t, "define", func() error { return m.DefineDomain(ctx, uri, spec) })
	expectState(t, m, uri, name, hypervisor.StateShutoff, "shut off")

	// Stopping a stopped domain is nothing to do.
	twice(t, "shutdown (stopped)", func() error { return m.ShutdownDomain(ctx, uri, name) })
	twice(t, "destroy (stopped)", func() error { return m.DestroyDomain(ctx, uri, name) })

	twice(t, "start", func() error { return m.StartDomain(ctx, uri, name) })
	expectState(t, m, uri, name, hypervisor.StateRunning, "running")
	xml := virsh(t, uri, "dumpxml", name)
	for _, want := range []string{"<target dev='vda' bus='virtio'/>", "<target dev='sda' bus='sata'/>",
		"<serial type='pty'>", "<console type='pty'", "machine='pc-q35", "<readonly/>"} {
		if !strings.Contains(xml, want) {
			t.Errorf("domain XML lacks %s", want)
		}
	}

	// Running: the same spec is fine, a changed one is refused.
	if err := m.DefineDomain(ctx, uri, spec); err != nil {
		t.Errorf("define unchanged while running: %v", err)
	}
	bigger := spec
	bigger.MemoryMiB = 96
	if err := m.DefineDomain(ctx, uri, bigger); !errors.Is(err, hypervisor.ErrDomainRunning) {
		t.Errorf("define changed while running: %v, want ErrDomainRunning", err)
	}

	// The guest (firmware without an OS) ignores the ACPI request.
	twice(t, "shutdown", func() error { return m.ShutdownDomain(ctx, uri, name) })
	twice(t, "reboot", func() error { return m.RebootDomain(ctx, uri, name) })
	twice(t, "destroy", func() error { return m.DestroyDomain(ctx, uri, name) })
	expectState(t, m, uri, name, hypervisor.StateShutoff, "shut off")

	// Stopped: redefining changes memory and vCPUs.
	bigger.VCPUs = 2
	twice(t, "redefine", func() error { return m.DefineDomain(ctx, uri, bigger) })
	info := fields(virsh(t, uri, "dominfo", name))
	if info["Max memory"] != "98304 KiB" || info["CPU(s)"] != "2" {
		t.Errorf("after redefine: memory %q, CPUs %q; want 98304 KiB, 2", info["Max memory"], info["CPU(s)"])
	}
	if info["UUID"] != spec.UUID {
		t.Errorf("UUID %q, want %q", info["UUID"], spec.UUID)
	}

	// Rebooting a stopped domain starts it.
	if err := m.RebootDomain(ctx, uri, name); err != nil {
		t.Fatal(err)
	}
	expectState(t, m, uri, name, hypervisor.StateRunning, "running")

	list, err := m.ListDomains(ctx, uri, "allmende-")
	if err != nil {
		t.Fatal(err)
	}
	want := []hypervisor.DomainInfo{{Name: name, UUID: spec.UUID, State: hypervisor.StateRunning}}
	if fmt.Sprint(list) != fmt.Sprint(want) {
		t.Errorf("ListDomains = %v, want %v", list, want)
	}
	if list, err := m.ListDomains(ctx, uri, "other-"); err != nil || len(list) != 0 {
		t.Errorf("ListDomains(other-) = %v, %v", list, err)
	}

	// Undefine a running domain, then delete its volumes.
	twice(t, "undefine", func() error { return m.UndefineDomain(ctx, uri, name) })
	if st, err := m.DomainState(ctx, uri, name); err != nil || st != hypervisor.StateMissing {
		t.Errorf("state after undefine: %v, %v; want missing", st, err)
	}
	if out := virsh(t, uri, "list", "--all", "--name"); strings.Contains(out, name) {
		t.Errorf("virsh still lists %s:\n%s", name, out)
	}
	for _, v := range []string{"disk", "seed"} {
		twice(t, "delete "+v, func() error { return m.DeleteVolume(ctx, uri, "vms", v) })
	}
	if out := virsh(t, uri, "vol-list", "vms"); strings.Contains(out, "disk") || strings.Contains(out, "seed") {
		t.Errorf("virsh still lists volumes:\n%s", out)
	}

	// Operations on a domain that does not exist.
	twice(t, "destroy (missing)", func() error { return m.DestroyDomain(ctx, uri, name) })
	twice(t, "shutdown (missing)", func() error { return m.ShutdownDomain(ctx, uri, name) })
	if err := m.StartDomain(ctx, uri, name); !hypervisor.IsNotFound(err) {
		t.Errorf("start of a missing domain: %v, want not found", err)
	}

	// libvirt accepts what real hosts get: KVM and a NIC on a bridge or a
	// network. Defined only: starting would need the bridge and network.
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Log("no /dev/kvm: KVM definition not checked")
		return
	}
	for _, nic := range []hypervisor.NICSpec{{Bridge: "br-allmende", MAC: "52:54:00:00:00:02"}, {Network: "default", MAC: "52:54:00:00:00:03"}} {
		kvmSpec := hypervisor.DomainSpec{Name: "allmende-kvm", UUID: uuid.NewString(), Type: "kvm", VCPUs: 2, MemoryMiB: 256, Network: &nic}
		if err := m.DefineDomain(ctx, uri, kvmSpec); err != nil {
			t.Errorf("define KVM domain with NIC %+v: %v", nic, err)
		}
		if out := virsh(t, uri, "domiflist", kvmSpec.Name); !strings.Contains(out, nic.MAC) {
			t.Errorf("virsh domiflist lacks %s:\n%s", nic.MAC, out)
		}
		if err := m.UndefineDomain(ctx, uri, kvmSpec.Name); err != nil {
			t.Error(err)
		}
	}
}

// TestDefineDomainRejectsBadSpecs checks validation before libvirt sees it.
func TestDefineDomainRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	m := newManager(t)
	ctx := testContext(t)
	good := hypervisor.DomainSpec{Name: "allmende-x", UUID: uuid.NewString(), Type: "qemu", VCPUs: 1, MemoryMiB: 64}
	cases := map[string]func(*hypervisor.DomainSpec){
		"name with slash":  func(s *hypervisor.DomainSpec) { s.Name = "a/b" },
		"no UUID":          func(s *hypervisor.DomainSpec) { s.UUID = "" },
		"type xen":         func(s *hypervisor.DomainSpec) { s.Type = "xen" },
		"no vCPUs":         func(s *hypervisor.DomainSpec) { s.VCPUs = 0 },
		"no memory":        func(s *hypervisor.DomainSpec) { s.MemoryMiB = 0 },
		"initrd no kernel": func(s *hypervisor.DomainSpec) { s.Initrd = "/x" },
		"disk no format":   func(s *hypervisor.DomainSpec) { s.Disks = []hypervisor.DiskSpec{{Pool: "p", Volume: "v"}} },
		"virtio cdrom": func(s *hypervisor.DomainSpec) {
			s.Disks = []hypervisor.DiskSpec{{Pool: "p", Volume: "v", Device: "cdrom", Bus: "virtio", Format: "raw"}}
		},
		"NIC without MAC": func(s *hypervisor.DomainSpec) { s.Network = &hypervisor.NICSpec{Network: "default"} },
		"NIC network+bridge": func(s *hypervisor.DomainSpec) {
			s.Network = &hypervisor.NICSpec{Network: "default", Bridge: "br0", MAC: "52:54:00:00:00:01"}
		},
	}
	for name, mutate := range cases {
		s := good
		mutate(&s)
		// The URI is never dialled: validation fails first.
		if err := m.DefineDomain(ctx, "qemu+unix:///system?socket=/nonexistent", s); err == nil ||
			strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: %v, want a validation error", name, err)
		}
	}
}

// TestConcurrentDomains defines and starts ten guests at once through one
// Manager (one shared connection).
func TestConcurrentDomains(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	uri := d.URI()

	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("allmende-c%02d", i)
			spec := hypervisor.DomainSpec{Name: name, UUID: uuid.NewString(), Type: "qemu", VCPUs: 1, MemoryMiB: 32}
			if err := m.DefineDomain(ctx, uri, spec); err != nil {
				errs <- err
				return
			}
			errs <- m.StartDomain(ctx, uri, name)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}

	list, err := m.ListDomains(ctx, uri, "allmende-c")
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, di := range list {
		if di.State == hypervisor.StateRunning {
			running++
		}
	}
	if len(list) != n || running != n {
		t.Errorf("%d domains, %d running; want %d running: %v", len(list), running, n, list)
	}
	if out := virsh(t, uri, "list", "--state-running", "--name"); strings.Count(out, "allmende-c") != n {
		t.Errorf("virsh lists as running:\n%s", out)
	}

	// And remove them all at once.
	for _, di := range list {
		wg.Go(func() {
			if err := m.UndefineDomain(ctx, uri, di.Name); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if list, err := m.ListDomains(ctx, uri, ""); err != nil || len(list) != 0 {
		t.Errorf("after undefining all: %v, %v", list, err)
	}
}

// twice runs a supposedly idempotent operation two times; both must succeed.
func twice(t *testing.T, what string, op func() error) {
	t.Helper()
	for i := 1; i <= 2; i++ {
		if err := op(); err != nil {
			t.Fatalf("%s (call %d): %v", what, i, err)
		}
	}
}

// expectState checks the state both through the Manager and with virsh.
func expectState(t *testing.T, m *hypervisor.Manager, uri, name string, want hypervisor.DomainState, virshWant string) {
	t.Helper()
	st, err := m.DomainState(testContext(t), uri, name)
	if err != nil || st != want {
		t.Errorf("DomainState = %q, %v; want %q", st, err, want)
	}
	if got := strings.TrimSpace(virsh(t, uri, "domstate", name)); got != virshWant {
		t.Errorf("virsh domstate = %q, want %q", got, virshWant)
	}
}
