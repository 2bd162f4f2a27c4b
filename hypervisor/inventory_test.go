package hypervisor_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"allmende/hypervisor/hvtest"
)

// TestInventoryMatchesVirsh checks Inventory against what virsh, libvirt's
// own client, reports for the same private host.
func TestInventoryMatchesVirsh(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)

	if err := m.EnsureDirPool(ctx, d.URI(), "default", poolDir(d, "default")); err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureDirPool(ctx, d.URI(), "backups", poolDir(d, "backups")); err != nil {
		t.Fatal(err)
	}
	inv, err := m.Inventory(ctx, d.URI())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("inventory: %+v", inv)

	node := fields(virsh(t, d.URI(), "nodeinfo"))
	if got, want := strconv.Itoa(inv.CPUs), node["CPU(s)"]; got != want {
		t.Errorf("CPUs = %s, virsh says %s", got, want)
	}
	if got, want := inv.CPUModel, node["CPU model"]; got != want {
		t.Errorf("CPUModel = %q, virsh says %q", got, want)
	}
	// Total memory is read by two calls at two moments; on a machine whose
	// memory changes meanwhile (a ballooned VM) they differ a little.
	virshKiB, err := strconv.ParseUint(strings.TrimSuffix(node["Memory size"], " KiB"), 10, 64)
	if err != nil {
		t.Fatalf("virsh nodeinfo memory %q: %v", node["Memory size"], err)
	}
	if !roughlyEqual(inv.MemoryBytes, virshKiB*1024) {
		t.Errorf("memory = %d KiB, virsh says %d KiB", inv.MemoryBytes/1024, virshKiB)
	}
	if inv.FreeMemoryBytes == 0 || inv.FreeMemoryBytes > inv.MemoryBytes {
		t.Errorf("FreeMemoryBytes = %d of %d", inv.FreeMemoryBytes, inv.MemoryBytes)
	}

	ver := fields(virsh(t, d.URI(), "version"))
	if got, want := "libvirt "+inv.LibvirtVersion, ver["Using library"]; got != want {
		t.Errorf("libvirt version = %q, virsh says %q", got, want)
	}
	if got, want := inv.HypervisorType+" "+inv.HypervisorVersion, ver["Running hypervisor"]; got != want {
		t.Errorf("hypervisor = %q, virsh says %q", got, want)
	}
	if got, want := inv.Hostname, strings.TrimSpace(virsh(t, d.URI(), "hostname")); got != want {
		t.Errorf("hostname = %q, virsh says %q", got, want)
	}

	// pool-list prints " Name   State   Autostart", a rule, then one row per pool.
	var virshPools []string
	lines := strings.Split(strings.TrimSpace(virsh(t, d.URI(), "pool-list", "--all")), "\n")
	for _, line := range lines[2:] {
		f := strings.Fields(line)
		virshPools = append(virshPools, f[0]+" "+f[1])
	}
	var ours []string
	for _, p := range inv.Pools {
		state := "inactive"
		if p.Active {
			state = "active"
		}
		ours = append(ours, p.Name+" "+state)
	}
	slices.Sort(virshPools) // ours must already be sorted
	if !slices.Equal(ours, virshPools) {
		t.Errorf("pools = %v, virsh says %v", ours, virshPools)
	}
	for _, p := range inv.Pools {
		if want := poolDir(d, p.Name); p.Path != want {
			t.Errorf("pool %s path = %q, want %q", p.Name, p.Path, want)
		}
		if p.CapacityBytes == 0 || p.AvailableBytes > p.CapacityBytes {
			t.Errorf("pool %s sizes look wrong: %+v", p.Name, p)
		}
	}
}

// TestTestDriverThroughPrivateSocket opens libvirt's fake "test" node through
// the private daemon's socket: the URI's driver is what gets opened.
func TestTestDriverThroughPrivateSocket(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	uri := strings.Replace(d.URI(), "qemu+unix:///system", "test+unix:///default", 1)
	inv, err := m.Inventory(testContext(t), uri)
	if err != nil {
		t.Fatal(err)
	}
	if inv.HypervisorType != "TEST" || len(inv.Pools) != 1 || inv.Pools[0].Name != "default-pool" {
		t.Errorf("test driver inventory = %+v, want type TEST with default-pool", inv)
	}
}

func TestEnsureDirPoolIsIdempotent(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	path := poolDir(d, "default")

	for i := range 2 {
		if err := m.EnsureDirPool(ctx, d.URI(), "default", path); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	out := virsh(t, d.URI(), "pool-info", "default")
	info := fields(out)
	if info["State"] != "running" || info["Autostart"] != "yes" || info["Persistent"] != "yes" {
		t.Errorf("pool-info after EnsureDirPool:\n%s", out)
	}

	// A stopped pool is started again.
	virsh(t, d.URI(), "pool-destroy", "default")
	if err := m.EnsureDirPool(ctx, d.URI(), "default", path); err != nil {
		t.Fatal(err)
	}
	if info := fields(virsh(t, d.URI(), "pool-info", "default")); info["State"] != "running" {
		t.Errorf("pool not restarted: %v", info)
	}

	// The same name somewhere else is refused, not silently accepted.
	if err := m.EnsureDirPool(ctx, d.URI(), "default", poolDir(d, "elsewhere")); err == nil {
		t.Error("EnsureDirPool accepted an existing pool with another path")
	}
	if err := m.EnsureDirPool(ctx, d.URI(), "rel", "relative/path"); err == nil {
		t.Error("EnsureDirPool accepted a relative path")
	}
}

// roughlyEqual compares amounts of host memory read at different moments:
// within 2 %, far closer than any wrong unit or field would come.
func roughlyEqual(a, b uint64) bool {
	d := max(a, b) - min(a, b)
	return d*50 <= max(a, b)
}
