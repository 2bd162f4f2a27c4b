package web_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"allmende/e2e/crash"
	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/replication"
	"allmende/web"
)

// rigPortal is a portal whose hosts are the two hosts a and b of a rig.
type rigPortal struct {
	srv  *web.Server
	cfg  *web.Config
	base string
	a, b *hypervisor.Daemon
	f    *crash.Fixture // on host a
	hv   *hypervisor.Manager
	dir  string                      // of the rig
	opts [2]hypervisor.DaemonOptions // of a and b, to start them again
}

// startRigPortal starts hosts a and b of a rig in a short temp dir (the
// daemons' socket paths must fit 107 bytes) and a portal with --libvirt
// none that knows them as hosts "a" and "b", as `allmende dev two-hosts`
// does, with the fixture's accounts, plans and image on host a. The rig
// stops when the test ends, after the portal.
func startRigPortal(t *testing.T, edit func(*web.Config)) *rigPortal {
	t.Helper()
	dir, err := os.MkdirTemp("", "alm-rig")
	if err != nil {
		t.Fatal(err)
	}
	// QEMU runs as libvirt-qemu and must reach the pools below.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	log := hvtest.Logger(t)
	t.Cleanup(func() {
		if err := hypervisor.StopRig(dir, log); err != nil {
			t.Errorf("stop rig: %v", err)
		}
		os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := &rigPortal{dir: dir}
	for i, name := range []string{"a", "b"} {
		opts := hypervisor.RigHostOptions(i, 0)
		opts.TCPPort = freeTCPPort(t)
		p.opts[i] = opts
		d, err := hypervisor.StartRigHost(ctx, dir, name, opts, log)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			p.a = d
		} else {
			p.b = d
		}
	}
	p.srv, p.base, p.cfg = startServerWith(t, "none", edit)
	for _, h := range []struct {
		name string
		d    *hypervisor.Daemon
	}{{"a", p.a}, {"b", p.b}} {
		if err := p.srv.RegisterHost(ctx, h.name, h.d.TCPURI()); err != nil {
			t.Fatal(err)
		}
	}
	if p.f, err = crash.SetupOn(ctx, p.cfg.Database, p.cfg.DataDir, "a", quietLogger()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.f.Close() })
	hb := p.waitHost(t, "b")
	if err := p.f.Hosts.SetVMSettings(ctx, p.f.Admin, p.f.AdminViewer, hb.ID, compute.HostVMSettings{
		CPUOvercommitPercent: 2000, MemoryOvercommitPercent: 100, DomainType: "qemu"}); err != nil {
		t.Fatal(err)
	}
	p.hv = hypervisor.NewManager(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = p.hv.Close() })
	return p
}

// waitHost waits until the portal found host name reachable with a pool.
func (p *rigPortal) waitHost(t *testing.T, name string) *compute.Host {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := p.f.Hosts.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range list {
			if h.Name == name && h.Reachable && len(h.PoolList()) > 0 {
				return &h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s not reachable within 60 s", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// guestWrite writes into the running guest's disk from outside, through
// QEMU's monitor (the test guest has no shell to write with).
func guestWrite(t *testing.T, uri, domain string, pattern byte, off, length string) {
	t.Helper()
	cmd := fmt.Sprintf(`qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x%02x %s %s"`, pattern, off, length)
	out, err := exec.Command("virsh", "-c", uri, "qemu-monitor-command", domain, "--hmp", cmd).CombinedOutput()
	if lo := strings.ToLower(string(out)); err != nil || strings.Contains(lo, "error") || strings.Contains(lo, "failed") {
		t.Fatalf("hmp %s: %v: %s", cmd, err, out)
	}
}

// waitRuns waits until the VM has n finished runs and returns them,
// newest first.
func waitRuns(t *testing.T, db *models.DB, vmID string, n int) []replication.Run {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var runs []replication.Run
		if err := db.Gorm.Where("vm_id = ? AND finished_at IS NOT NULL", vmID).Order("started_at DESC, id DESC").Find(&runs).Error; err != nil {
			t.Fatal(err)
		}
		if len(runs) >= n {
			return runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d replication runs finished within 3 minutes: %+v", len(runs), n, runs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// holdRuns makes the VM's next run due only once the test moves the clock
// on by 301 s: a scheduled run would begin a backup job on the domain and
// so end a comparison's (one backup job per domain).
func holdRuns(t *testing.T, db *models.DB, clock *models.ManualClock, vmID string) {
	t.Helper()
	if err := db.Gorm.Exec("UPDATE vm_replicas SET next_run_at = ? WHERE vm_id = ?", clock.Now().Add(300*time.Second), vmID).Error; err != nil {
		t.Fatal(err)
	}
}

// untilGood waits for the runs after the first seen ones until one
// succeeds; after a failed one it moves the clock past the backoff so that
// the schedule retries. It returns the good run and the runs since seen,
// oldest first.
func untilGood(t *testing.T, db *models.DB, clock *models.ManualClock, vmID string, seen int) (replication.Run, []replication.Run) {
	t.Helper()
	for n := seen + 1; n <= seen+4; n++ {
		runs := waitRuns(t, db, vmID, n)
		last := runs[0]
		if last.Succeeded() {
			since := runs[:len(runs)-seen]
			slices.Reverse(since)
			return last, since
		}
		t.Logf("run %s (%s) failed; the schedule retries it: %s", last.ID, last.Kind, last.Error)
		clock.Set(clock.Now().Add(301 * time.Second))
	}
	t.Fatalf("no good run within 4 tries")
	return replication.Run{}, nil
}

// The whole path of replication on the two-host rig, through the portal:
// the starter images on host a, a member's VM there with host b as its
// standby, the schedule's runs copying its disk to b (a full copy, then
// incremental ones of what was written into the running guest's disk from
// outside), a lost checkpoint answered by a full copy, the guest running
// on throughout, and the member's view of it.
func TestReplicationOnRig(t *testing.T) {
	hvtest.GuestFiles(t)
	cache, err := hvtest.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	clock := models.NewManualClock(time.Now().UTC().Truncate(time.Second))
	p := startRigPortal(t, func(c *web.Config) { c.StarterCache = cache; c.Clock = clock })
	f := p.f
	ctx := t.Context()
	hostA := p.waitHost(t, "a")

	admin := newClient(t, p.base)
	wantStatus(t, admin.login("admin@fixture.example", crash.Password), http.StatusSeeOther)
	resp, body := admin.submit("/admin/setup", "/admin/setup", url.Values{"host_id": {hostA.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: status %d\n%s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, body = admin.get("/admin/setup/status")
		if strings.Contains(body, "starter-ready") {
			break
		}
		if strings.Contains(body, `data-status="failed"`) || time.Now().After(deadline) {
			t.Fatalf("starter images not ready:\n%s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	plan, disk := starterRows(t, f)

	member := newClient(t, p.base)
	wantStatus(t, member.login(f.Member.Email, crash.Password), http.StatusSeeOther)
	resp, body = member.submit("/vms/new", "/vms", url.Values{"name": {"replicated"}, "plan_id": {plan.ID}, "image_id": {disk.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create VM: status %d\n%s", resp.StatusCode, body)
	}
	vmID := strings.TrimPrefix(resp.Header.Get("Location"), "/vms/")
	deadline = time.Now().Add(90 * time.Second)
	for {
		_, body = member.get("/vms/" + vmID + "/status")
		if strings.Contains(body, `data-state="running"`) {
			break
		}
		if strings.Contains(body, `data-state="error"`) || time.Now().After(deadline) {
			vm, _ := f.VMs.Get(ctx, f.AdminViewer, vmID)
			t.Fatalf("VM not running: %+v\n%s", vm, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	vm, err := f.VMs.Get(ctx, f.AdminViewer, vmID)
	if err != nil {
		t.Fatal(err)
	}
	if vm.HostID != hostA.ID {
		t.Fatalf("VM placed on %s, want host a", vm.HostID)
	}
	var rep replication.Replica
	if err := f.DB.Gorm.Where("vm_id = ?", vmID).First(&rep).Error; err != nil {
		t.Fatalf("no replica row: %v", err)
	}
	hostB := p.waitHost(t, "b")
	if rep.ReplicaHostID != hostB.ID {
		t.Fatalf("replica host %s, want b (%s)", rep.ReplicaHostID, hostB.ID)
	}
	ua, ub := p.a.TCPURI(), p.b.TCPURI()
	dom, vol := vm.DomainName(), vm.DiskVolume()
	domID := strings.TrimSpace(virsh(t, ua, "domid", dom))
	target := hypervisor.ReplicaTarget{URI: ub, Pool: disk.Pool, Volume: vol}
	cmp := hypervisor.CompareRequest{SourceURI: ua, Domain: dom, Disk: "vda", Target: target}
	wantEqual := func(what string) {
		t.Helper()
		eq, diff, err := p.hv.CompareReplica(ctx, cmp)
		if err != nil || !eq {
			t.Fatalf("%s: replica equal %v (first difference at %d), %v", what, eq, diff, err)
		}
	}
	wantBytes := func(what string, off, n uint64, pattern byte) {
		t.Helper()
		got, err := p.hv.ReadVolume(ctx, ub, disk.Pool, vol, off, n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bytes.Repeat([]byte{pattern}, int(n))) {
			t.Fatalf("%s: replica's %d bytes at %d are not 0x%02x (%d bytes read)", what, n, off, pattern, len(got))
		}
	}
	next := func() { clock.Set(clock.Now().Add(301 * time.Second)) } // past the 300 s rule

	// (1) The first run, due as soon as the VM runs: a full copy of the
	// data the disk holds.
	full, since := untilGood(t, f.DB, clock, vmID, 0)
	seen := len(since)
	if full.Kind != replication.RunFull {
		t.Fatalf("first good run: %+v", full)
	}
	src, err := p.hv.VolumeInfo(ctx, ua, disk.Pool, vol)
	if err != nil {
		t.Fatal(err)
	}
	// The guest sees the image's data (its backing file) and the VM's own
	// writes (the overlay): that is what a full copy sends, not the empty
	// rest of the virtual disk.
	base, err := p.hv.VolumeInfo(ctx, ua, disk.Pool, disk.Volume)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full copy: %d bytes in %d extents, %s (disk: %d bytes virtual, image %d bytes, overlay %d allocated)",
		full.BytesSent, full.Extents, full.Duration(), src.CapacityBytes, base.CapacityBytes, src.AllocationBytes)
	if data := int64(base.CapacityBytes + src.AllocationBytes); full.BytesSent > data+1<<20 || full.BytesSent < int64(src.AllocationBytes) {
		t.Errorf("full copy sent %d bytes; image and overlay hold at most %d", full.BytesSent, data)
	}
	repInfo, err := p.hv.VolumeInfo(ctx, ub, disk.Pool, vol)
	if err != nil {
		t.Fatalf("replica volume on b: %v", err)
	}
	if repInfo.Format != "raw" || repInfo.CapacityBytes != src.CapacityBytes {
		t.Errorf("replica %+v, want raw of %d bytes", repInfo, src.CapacityBytes)
	}
	wantEqual("after the full copy")

	// (2) Data written into the running guest's disk goes with the next
	// run, and only it.
	guestWrite(t, ua, dom, 0x5a, "1M", "256k")
	next()
	inc, since := untilGood(t, f.DB, clock, vmID, seen)
	seen += len(since)
	t.Logf("incremental copy after 256 KiB: %d bytes in %d extents, %s", inc.BytesSent, inc.Extents, inc.Duration())
	if inc.Kind != replication.RunIncremental || inc.BytesSent < 256<<10 || inc.BytesSent > 1<<20 {
		t.Fatalf("second good run: %+v", inc)
	}
	wantBytes("after the second run", 1<<20, 256<<10, 0x5a)

	guestWrite(t, ua, dom, 0x6b, "100M", "64k")
	next()
	inc, since = untilGood(t, f.DB, clock, vmID, seen)
	seen += len(since)
	t.Logf("incremental copy after 64 KiB: %d bytes in %d extents, %s", inc.BytesSent, inc.Extents, inc.Duration())
	if inc.Kind != replication.RunIncremental || inc.BytesSent < 64<<10 || inc.BytesSent > 1<<20 {
		t.Fatalf("third good run: %+v", inc)
	}
	wantBytes("after the third run", 100<<20, 64<<10, 0x6b)
	wantEqual("after the third run")
	cps, err := p.hv.ListCheckpoints(ctx, ua, dom)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 1 || cps[0].Name != inc.NewCheckpoint {
		t.Errorf("checkpoints on a: %+v, want just %s", cps, inc.NewCheckpoint)
	}

	// (3) A lost checkpoint (as after a migration): the run records it
	// and makes a full copy at once.
	if err := p.hv.DeleteCheckpoint(ctx, ua, dom, inc.NewCheckpoint); err != nil {
		t.Fatal(err)
	}
	guestWrite(t, ua, dom, 0x7c, "200M", "64k")
	next()
	refull, since := untilGood(t, f.DB, clock, vmID, seen)
	if len(since) < 2 || since[0].Succeeded() || !strings.Contains(since[0].Error, "is gone") || refull.Kind != replication.RunFull {
		t.Fatalf("after the lost checkpoint: %+v", since)
	}
	t.Logf("full copy after the lost checkpoint: %d bytes in %d extents, %s", refull.BytesSent, refull.Extents, refull.Duration())
	// untilGood moved the clock past the failed run, so the full copy's
	// next run would be due at the next tick, during the comparison.
	holdRuns(t, f.DB, clock, vmID)
	wantBytes("after the fallback", 200<<20, 64<<10, 0x7c)
	wantBytes("after the fallback", 1<<20, 256<<10, 0x5a)
	wantEqual("after the fallback")

	// The guest ran on throughout: the same QEMU process, running.
	if got := strings.TrimSpace(virsh(t, ua, "domstate", dom)); got != "running" {
		t.Errorf("domain state %q, want running", got)
	}
	if got := strings.TrimSpace(virsh(t, ua, "domid", dom)); got != domID {
		t.Errorf("domain id %s, was %s: the guest was restarted", got, domID)
	}

	// The member sees it; another member does not.
	resp, body = member.get("/vms/" + vmID)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="vm-replication"`, "Last good copy", "Standby host</dt><dd>b</dd>")
	other := newClient(t, p.base)
	createUser(t, p.srv, "other@fixture.example", account.RoleMember)
	wantStatus(t, other.login("other@fixture.example", "correct horse battery"), http.StatusSeeOther)
	resp, _ = other.get("/vms/" + vmID)
	wantStatus(t, resp, http.StatusNotFound)
}
