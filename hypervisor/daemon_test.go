package hypervisor_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

func TestStopLeavesNoProcess(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)

	pids := processesMentioning(t, d.Dir())
	if len(pids) < 3 { // the script, libvirtd and virtlogd
		t.Fatalf("expected the daemon's processes running, found %v", pids)
	}
	var daemonPids []int
	for _, f := range []string{"libvirtd.pid", "virtlogd.pid"} {
		b, err := os.ReadFile(filepath.Join(d.Dir(), f))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		daemonPids = append(daemonPids, pid)
	}

	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := processesMentioning(t, d.Dir()); len(left) > 0 {
		t.Errorf("processes left after Stop: %v", left)
	}
	// The pid files hold PIDs of the daemon's own namespace; the processes
	// found above are the same ones seen from here, so both must be gone.
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("pid %d still exists after Stop", pid)
		}
	}
	if _, err := os.Stat(d.SocketPath()); !os.IsNotExist(err) {
		t.Errorf("socket %s left behind (err %v)", d.SocketPath(), err)
	}
	t.Logf("daemon pids in their namespace: %v", daemonPids)
}

// TestDaemonsAreIsolated runs two private hosts at once: a pool defined on
// one must not show up on the other, nor in the machine's own libvirt config.
func TestDaemonsAreIsolated(t *testing.T) {
	t.Parallel()
	a := hvtest.Start(t)
	b := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)

	name := "only-on-" + filepath.Base(a.Dir())
	if err := m.EnsureDirPool(ctx, a.URI(), name, poolDir(a, name)); err != nil {
		t.Fatal(err)
	}

	invA, err := m.Inventory(ctx, a.URI())
	if err != nil {
		t.Fatal(err)
	}
	invB, err := m.Inventory(ctx, b.URI())
	if err != nil {
		t.Fatal(err)
	}
	if !poolExists(invA.Pools, name) {
		t.Errorf("pool %s missing on its own host: %+v", name, invA.Pools)
	}
	if poolExists(invB.Pools, name) {
		t.Errorf("pool %s leaked to the other host: %+v", name, invB.Pools)
	}
	if out := virsh(t, b.URI(), "pool-list", "--all", "--name"); strings.Contains(out, name) {
		t.Errorf("virsh sees pool %s on the other host:\n%s", name, out)
	}
	if _, err := os.Stat(filepath.Join("/etc/libvirt/storage", name+".xml")); !os.IsNotExist(err) {
		t.Errorf("pool definition leaked into the machine's /etc/libvirt (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(a.Dir(), "ns", "etc", "storage", name+".xml")); err != nil {
		t.Errorf("pool definition not in the private /etc/libvirt: %v", err)
	}
}

// TestRestartKeepsState starts a host again on the same dir: it is the same
// host, pools included.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	if err := m.EnsureDirPool(ctx, d.URI(), "default", poolDir(d, "default")); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	d2 := hvtest.StartIn(t, d.Dir())
	inv, err := m.Inventory(ctx, d2.URI())
	if err != nil {
		t.Fatal(err)
	}
	p, ok := findPool(inv.Pools, "default")
	if !ok || !p.Active {
		t.Errorf("after restart pools = %+v, want default active (autostart)", inv.Pools)
	}
}

// TestSecondStartReusesDaemon starts again on a dir whose daemon runs: the
// running one is reused, not replaced, and not doubled.
func TestSecondStartReusesDaemon(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	before := holderPID(t, d.Dir())
	d2, err := hypervisor.StartDaemon(testContext(t), d.Dir(), hvtest.Logger(t))
	if err != nil {
		t.Fatalf("second StartDaemon on %s: %v", d.Dir(), err)
	}
	if d2.URI() != d.URI() {
		t.Errorf("URI %s, want %s", d2.URI(), d.URI())
	}
	if after := holderPID(t, d.Dir()); after != before {
		t.Errorf("holder pid %d after the second start, want the first one's %d", after, before)
	}
	if n := len(processesMentioning(t, filepath.Join(d.Dir(), "libvirtd.conf"))); n != 1 {
		t.Errorf("%d libvirtd processes for the dir, want 1", n)
	}
}
