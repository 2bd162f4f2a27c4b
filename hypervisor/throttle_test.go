package hypervisor_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// TestThrottleReadBack throttles a running guest, reads the limits back
// with virsh (blkdeviotune, schedinfo, live and persistent), keeps them
// over a restart of the guest and of the host, and clears them again;
// each call twice, as a retried job would.
func TestThrottleReadBack(t *testing.T) {
	t.Parallel()
	d := hvtest.StartWith(t, hypervisor.DaemonOptions{CPUControl: true})
	m := newManager(t)
	ctx := testContext(t)
	uri := d.URI()
	if err := m.EnsureDirPool(ctx, uri, "vms", poolDir(d, "vms")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateDiskVolume(ctx, uri, "vms", "disk", 16*mib, nil); err != nil {
		t.Fatal(err)
	}
	spec := hypervisor.DomainSpec{Name: "allmende-" + uuid.NewString(), UUID: uuid.NewString(), Type: "qemu", VCPUs: 1, MemoryMiB: 64,
		Disks: []hypervisor.DiskSpec{{Pool: "vms", Volume: "disk", Format: "qcow2"}}}
	name := spec.Name
	if err := m.DefineDomain(ctx, uri, spec); err != nil {
		t.Fatal(err)
	}
	if err := m.StartDomain(ctx, uri, name); err != nil {
		t.Fatal(err)
	}
	want := hypervisor.Throttle{DiskBytesSec: 1 << 20, CPUPercent: 20}
	twice(t, "throttle", func() error { return m.SetThrottle(ctx, uri, name, "vda", want) })
	if got, err := m.ReadThrottle(ctx, uri, name, "vda"); err != nil || got != want {
		t.Fatalf("read back %+v, %v; want %+v", got, err, want)
	}
	for _, scope := range []string{"--live", "--config"} {
		io := fields(virsh(t, uri, "blkdeviotune", name, "vda", scope))
		if io["read_bytes_sec"] != "1048576" || io["write_bytes_sec"] != "1048576" {
			t.Errorf("blkdeviotune %s: %v", scope, io)
		}
		cpu := fields(virsh(t, uri, "schedinfo", name, scope))
		if cpu["vcpu_quota"] != "20000" || cpu["vcpu_period"] != "100000" {
			t.Errorf("schedinfo %s: %v", scope, cpu)
		}
	}
	// A restart of the guest keeps the limits: they are in its definition.
	if err := m.DestroyDomain(ctx, uri, name); err != nil {
		t.Fatal(err)
	}
	if err := m.StartDomain(ctx, uri, name); err != nil {
		t.Fatal(err)
	}
	if got, err := m.ReadThrottle(ctx, uri, name, "vda"); err != nil || got != want {
		t.Fatalf("after a restart %+v, %v; want %+v", got, err, want)
	}
	// A restart of the host (the daemon and with it every guest stopped,
	// then started again on the same directory) keeps them too.
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	d = hvtest.StartInWith(t, d.Dir(), hypervisor.DaemonOptions{CPUControl: true})
	uri = d.URI()
	if st, err := m.DomainState(ctx, uri, name); err != nil || st != hypervisor.StateShutoff {
		t.Fatalf("after the host restart the guest is %s, %v; want shut off", st, err)
	}
	if err := m.StartDomain(ctx, uri, name); err != nil {
		t.Fatal(err)
	}
	if got, err := m.ReadThrottle(ctx, uri, name, "vda"); err != nil || got != want {
		t.Fatalf("after a host restart %+v, %v; want %+v", got, err, want)
	}
	if cpu := fields(virsh(t, uri, "schedinfo", name, "--live")); cpu["vcpu_quota"] != "20000" {
		t.Errorf("after a host restart schedinfo --live: %v", cpu)
	}
	twice(t, "unthrottle", func() error { return m.SetThrottle(ctx, uri, name, "vda", hypervisor.Throttle{}) })
	if got, err := m.ReadThrottle(ctx, uri, name, "vda"); err != nil || got != (hypervisor.Throttle{}) {
		t.Fatalf("after clearing %+v, %v", got, err)
	}
	if io := fields(virsh(t, uri, "blkdeviotune", name, "vda", "--config")); io["write_bytes_sec"] != "0" {
		t.Errorf("cleared, the definition still says %v", io)
	}
	if out := virsh(t, uri, "schedinfo", name, "--config"); strings.Contains(out, "vcpu_quota     : 20000") {
		t.Errorf("cleared, schedinfo still says %s", out)
	}
}
