package hypervisor_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRig starts hosts a and b of a rig in a fresh short dir and stops
// them when the test ends, checking that no process of the rig is left.
func startRig(t *testing.T) (dir string, a, b *hypervisor.Daemon) {
	t.Helper()
	dir, err := os.MkdirTemp("", "alm")
	if err != nil {
		t.Fatal(err)
	}
	log := hvtest.Logger(t)
	t.Cleanup(func() {
		if err := hypervisor.StopRig(dir, log); err != nil {
			t.Errorf("stop rig: %v", err)
		}
		if left := processesMentioning(t, dir); len(left) > 0 {
			t.Errorf("processes of the rig in %s left after stopping it: %v", dir, left)
		}
		os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ds []*hypervisor.Daemon
	for i, name := range []string{"a", "b"} {
		opts := hypervisor.RigHostOptions(i, 0)
		opts.TCPPort = freePort(t)
		d, err := hypervisor.StartRigHost(ctx, dir, name, opts, log)
		if errors.Is(err, hypervisor.ErrNotInstalled) && os.Getenv(hvtest.SkipEnv) == "1" {
			t.Skipf("%v (%s=1)", err, hvtest.SkipEnv)
		}
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return dir, ds[0], ds[1]
}

var hostUUIDRE = regexp.MustCompile(`(?s)<host>\s*<uuid>([0-9a-f-]+)</uuid>`)

// capsUUID is the host UUID that uri's capabilities show.
func capsUUID(t *testing.T, uri string) string {
	t.Helper()
	m := hostUUIDRE.FindStringSubmatch(virsh(t, uri, "capabilities"))
	if m == nil {
		t.Fatalf("no host uuid in the capabilities of %s", uri)
	}
	return m[1]
}

// probeXML is a diskless guest, enough for a live migration.
const probeXML = `<domain type='qemu'><name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>` +
	`<os><type arch='x86_64'>hvm</type></os><devices><serial type='pty'/></devices></domain>`

// TestRigTwoHostsLiveMigrate starts a two-host rig, checks that the hosts
// are distinct (TCP ports, host UUIDs, guests) and live-migrates a guest
// from a to b.
func TestRigTwoHostsLiveMigrate(t *testing.T) {
	dir, a, b := startRig(t)
	ua, ub := a.TCPURI(), b.TCPURI()
	if !strings.HasPrefix(ua, "qemu+tcp://127.0.0.1:") || ua == ub {
		t.Fatalf("TCP URIs %q and %q", ua, ub)
	}

	// Both answer on their TCP ports, each with its own, stable host UUID.
	idA, idB := capsUUID(t, ua), capsUUID(t, ub)
	t.Logf("host a: %s uuid %s; host b: %s uuid %s", ua, idA, ub, idB)
	if idA == idB {
		t.Fatalf("both hosts have host UUID %s", idA)
	}
	if idA != a.HostUUID() || idB != b.HostUUID() {
		t.Errorf("capabilities show %s, %s; started with %s, %s", idA, idB, a.HostUUID(), b.HostUUID())
	}
	stored, err := os.ReadFile(filepath.Join(hypervisor.RigHostDir(dir, "a"), "host-uuid"))
	if err != nil || strings.TrimSpace(string(stored)) != idA {
		t.Errorf("host a's stored UUID %q (%v), want %s", stored, err, idA)
	}
	for _, u := range []string{ua, ub} {
		if out := virsh(t, u, "pool-list", "--name"); !strings.Contains(out, "default") {
			t.Errorf("%s: no default pool: %q", u, out)
		}
	}

	// A name of this rig's own: other tests on the machine start guests too.
	name := "probe-" + strings.TrimPrefix(filepath.Base(dir), "alm")
	file := filepath.Join(dir, "probe.xml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(probeXML, name)), 0o644); err != nil {
		t.Fatal(err)
	}
	virsh(t, ua, "define", file)
	virsh(t, ua, "start", name)
	if got := strings.TrimSpace(virsh(t, ub, "list", "--all", "--name")); got != "" {
		t.Fatalf("host b lists guests of its own before the migration: %q", got)
	}

	m := newManager(t)
	st, err := m.Migrate(testContext(t), ua, ub, name, hypervisor.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("live migration a -> b: wall %s, job %s, downtime %s, %d bytes", st.Wall, st.Job, st.Downtime, st.Bytes)

	if state := strings.TrimSpace(virsh(t, ub, "domstate", name)); state != "running" {
		t.Errorf("%s on b is %q, want running", name, state)
	}
	if persistent := virsh(t, ub, "list", "--persistent", "--name"); !strings.Contains(persistent, name) {
		t.Errorf("%s is not persistent on b: %q", name, persistent)
	}
	if left := strings.TrimSpace(virsh(t, ua, "list", "--all", "--name")); left != "" {
		t.Errorf("host a still has %q after the migration", left)
	}
	if pids := processesMentioning(t, "guest="+name+","); len(pids) != 1 {
		t.Errorf("QEMU processes of %s: %v, want one (b's)", name, pids)
	}
}
