package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"allmende/e2e/crash"
	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/replication"
	"allmende/web"
)

// Switchover on the two-host rig, through the API: a member's VM on host
// a with a good copy on b, more data written after that copy, the admin's
// POST /api/v1/vms/{id}/switchover; the VM runs on b from the copy with
// the data written last (the final copy while paused), the task log has
// the downtime, the old domain is gone from a, and the next replication
// run goes b → a. A member gets 403, a VM without a good copy 409.
func TestSwitchoverOnRig(t *testing.T) {
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
	hostB := p.waitHost(t, "b")

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
	resp, body = member.submit("/vms/new", "/vms", url.Values{"name": {"moving"}, "plan_id": {plan.ID}, "image_id": {disk.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create VM: status %d\n%s", resp.StatusCode, body)
	}
	vmID := strings.TrimPrefix(resp.Header.Get("Location"), "/vms/")
	vm := waitVM(t, f, vmID, 90*time.Second, func(vm *compute.VMDetail) bool { return vm.State == compute.VMRunning })
	if vm.HostID != hostA.ID {
		t.Fatalf("VM placed on %s, want host a", vm.HostID)
	}
	ua, ub := p.a.TCPURI(), p.b.TCPURI()
	dom, vol := vm.DomainName(), vm.DiskVolume()
	adminTok := tokenOf(t, f.DB, f.Admin.UserID)
	path := "/api/v1/vms/" + vmID + "/switchover"

	// No good copy yet: 409 with the reason.
	resp, body = admin.api(http.MethodPost, path, adminTok)
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "no good copy")

	full, since := untilGood(t, f.DB, clock, vmID, 0)
	seen := len(since)
	guestWrite(t, ua, dom, 0x5a, "1M", "256k")
	clock.Set(clock.Now().Add(301 * time.Second))
	_, since = untilGood(t, f.DB, clock, vmID, seen)
	seen += len(since)
	t.Logf("copies on b: full %d bytes in %s, then incremental", full.BytesSent, full.Duration())
	copyBootVolumes(t, p, ua, ub, disk)

	// Written after the last good copy: only the final copy carries it.
	guestWrite(t, ua, dom, 0x6b, "2M", "128k")

	// Members may not.
	resp, _ = member.api(http.MethodPost, path, f.MemberToken)
	wantStatus(t, resp, http.StatusForbidden)

	// The admins' buttons: on the VM's page and on the replication page.
	_, body = admin.get("/vms/" + vmID)
	wantContains(t, body, `id="vm-switchover"`, "Switch over to b")
	_, body = admin.get("/admin/replication")
	wantContains(t, body, "/admin/replication/vms/"+vmID+"/switchover")
	_, body = admin.get("/admin/hosts")
	wantContains(t, body, "/admin/hosts/"+hostA.ID+"/drain")
	before := guestCounter(t, p.hv, ua, dom)
	start := time.Now()
	resp, body = admin.api(http.MethodPost, path, adminTok)
	wantStatus(t, resp, http.StatusAccepted)
	var acc struct {
		Task struct{ ID, Kind string } `json:"task"`
	}
	if err := json.Unmarshal([]byte(body), &acc); err != nil || acc.Task.Kind != "switchover" {
		t.Fatalf("accepted: %v %s", err, body)
	}
	waitVM(t, f, vmID, 90*time.Second, func(vm *compute.VMDetail) bool {
		return vm.State == compute.VMRunning && vm.HostID == hostB.ID
	})
	t.Logf("switchover: running on b %s after the request", time.Since(start).Round(time.Millisecond))
	// The first run back to a is due at once; hold it while the test looks
	// at the copy (a run would end the comparison's backup job).
	holdRuns(t, f.DB, clock, vmID)
	if st := strings.TrimSpace(virsh(t, ub, "domstate", dom)); st != "running" {
		t.Fatalf("domain on b: %q", st)
	}
	if _, err := p.hv.DomainState(ctx, ua, dom); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.hv.DomainState(ctx, ua, dom); st != hypervisor.StateMissing {
		t.Errorf("domain on a after the switchover: %s", st)
	}
	// The copy has both writes, and the guest's disk on b is that copy.
	for _, w := range []struct {
		off, n uint64
		b      byte
	}{{1 << 20, 256 << 10, 0x5a}, {2 << 20, 128 << 10, 0x6b}} {
		got, err := p.hv.ReadVolume(ctx, ub, disk.Pool, vol, w.off, w.n)
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{w.b}, int(w.n))) {
			t.Fatalf("copy on b lacks %#x at %d: %v", w.b, w.off, err)
		}
	}
	// A run the schedule enqueued before holdRuns may still begin its own
	// backup job on the domain during the comparison, which ends the
	// comparison's (one backup job per domain): compare again then.
	var eq bool
	var diff int64
	for range 3 {
		eq, diff, err = p.hv.CompareReplica(ctx, hypervisor.CompareRequest{SourceURI: ub, Domain: dom, Disk: "vda",
			Target: hypervisor.ReplicaTarget{URI: ub, Pool: disk.Pool, Volume: vol}})
		if err == nil || !strings.Contains(err.Error(), "from the export") {
			break
		}
		t.Logf("comparison cut short (a replication run took the domain's backup job): %v", err)
		time.Sleep(2 * time.Second)
	}
	if err != nil || !eq {
		t.Fatalf("disk on b differs from the copy at %d: %v", diff, err)
	}
	td := waitTask(t, f, acc.Task.ID)
	var log []string
	for _, l := range td.Lines {
		log = append(log, l.Line)
	}
	t.Logf("task log:\n  %s", strings.Join(log, "\n  "))
	if td.Task.Status != compute.TaskSucceeded {
		t.Fatalf("task %s: %s", td.Task.Status, td.Task.Error)
	}
	wantContains(t, strings.Join(log, "\n"), "final copy:", "downtime", "removed the old domain")
	// The incremental run before staged beside the copy on b; the copy is
	// the disk now, and its staging volume is gone.
	vols, err := p.hv.ListVolumes(ctx, ub, disk.Pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols {
		if v.Name == replication.StagingOf(vol) {
			t.Errorf("staging volume %s left on b after the switchover", v.Name)
		}
	}
	// Live: the guest kept running (its counter went on rather than
	// starting again from 1), and only the writes since the final copy
	// travelled.
	wantContains(t, strings.Join(log, "\n"), "running on b, live: downtime")
	var diskMoved int64 = -1
	for _, l := range log {
		if _, rest, ok := strings.Cut(l, "migration moved "); ok {
			diskMoved, _ = strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	if diskMoved < 0 || diskMoved > 8<<20 {
		t.Fatalf("disk bytes moved by the migration: %d (want only the writes since the final copy)", diskMoved)
	}
	after := guestCounter(t, p.hv, ub, dom)
	t.Logf("guest counter: %d on a before, %d on b after", before, after)
	if after < before {
		t.Fatalf("guest restarted: counter %d on a, %d on b", before, after)
	}

	// b → a now: first a full copy; a new switchover waits for it (409),
	// unless a run the schedule enqueued before holdRuns made it already.
	if n := modelstest.Count(t, f.DB, "replication_runs", "vm_id = ? AND replica_host_id = ? AND verified = ?", vmID, hostA.ID, true); n == 0 {
		resp, body = admin.api(http.MethodPost, path, adminTok)
		wantStatus(t, resp, http.StatusConflict)
		wantContains(t, body, "no good copy")
	}
	var rep replication.Replica
	if err := f.DB.Gorm.Where("vm_id = ?", vmID).First(&rep).Error; err != nil || rep.ReplicaHostID != hostA.ID {
		t.Fatalf("replica after switchover: %+v %v", rep, err)
	}
	clock.Set(clock.Now().Add(301 * time.Second))
	back, since := untilGood(t, f.DB, clock, vmID, seen)
	seen += len(since)
	if back.Kind != replication.RunFull || back.ReplicaHostID != hostA.ID {
		t.Fatalf("first run back to a: %+v", back)
	}
	t.Logf("full copy back to a: %d bytes in %s", back.BytesSent, back.Duration())

	// Back to a, with live migration made impossible (a's migration ports
	// all taken): the switchover says so and falls back to the cold path.
	vm, err = f.VMs.Get(ctx, f.AdminViewer, vmID)
	if err != nil {
		t.Fatal(err)
	}
	copyOnA := vm.DiskVolume()
	guestWrite(t, ub, dom, 0x77, "3M", "64k")
	opts := hypervisor.RigHostOptions(0, 0)
	for port := opts.MigrationPorts[0]; port <= opts.MigrationPorts[1]; port++ {
		if l, err := net.Listen("tcp", fmt.Sprintf(":%d", port)); err == nil {
			defer l.Close()
		}
	}
	for try := 1; ; try++ {
		resp, body = admin.api(http.MethodPost, path, adminTok)
		wantStatus(t, resp, http.StatusAccepted)
		if err := json.Unmarshal([]byte(body), &acc); err != nil {
			t.Fatal(err)
		}
		td = waitTask(t, f, acc.Task.ID)
		if td.Task.Status == compute.TaskSucceeded || try == 3 || !strings.Contains(td.Task.Error, "replica differs") {
			break
		}
		// The copy's verification fails now and then (hypervisor/replicate.go,
		// being looked into): the switchover must then leave the VM running
		// where it was, and a good run later it may try again.
		t.Logf("switchover aborted (%s); the VM must run on b still", td.Task.Error)
		if st := strings.TrimSpace(virsh(t, ub, "domstate", dom)); st != "running" {
			t.Fatalf("domain on b after the abort: %q", st)
		}
		waitVM(t, f, vmID, 10*time.Second, func(vm *compute.VMDetail) bool {
			return vm.State == compute.VMRunning && vm.HostID == hostB.ID
		})
		clock.Set(clock.Now().Add(301 * time.Second))
		_, since = untilGood(t, f.DB, clock, vmID, seen)
		seen += len(since)
	}
	waitVM(t, f, vmID, 30*time.Second, func(vm *compute.VMDetail) bool {
		return vm.State == compute.VMRunning && vm.HostID == hostA.ID
	})
	if st := strings.TrimSpace(virsh(t, ua, "domstate", dom)); st != "running" {
		t.Fatalf("domain on a: %q", st)
	}
	log = log[:0]
	for _, l := range td.Lines {
		log = append(log, l.Line)
	}
	t.Logf("task log of the switchover back:\n  %s", strings.Join(log, "\n  "))
	if td.Task.Status != compute.TaskSucceeded {
		t.Fatalf("task %s: %s", td.Task.Status, td.Task.Error)
	}
	wantContains(t, strings.Join(log, "\n"), "live migration not possible", "falling back", "final copy again", "started on a", "downtime")
	got, err := p.hv.ReadVolume(ctx, ua, disk.Pool, copyOnA, 3<<20, 64<<10)
	if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{0x77}, 64<<10)) {
		t.Fatalf("copy on a lacks the data written on b: %v", err)
	}
}

// copyBootVolumes puts the starter image's kernel and initrd on b too (an
// admin imports images on every host).
func copyBootVolumes(t *testing.T, p *rigPortal, ua, ub string, disk *compute.Image) {
	t.Helper()
	ctx := t.Context()
	for _, name := range []string{disk.KernelVolume, disk.InitrdVolume} {
		if name == "" {
			continue
		}
		info, err := p.hv.VolumeInfo(ctx, ua, disk.Pool, name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := p.hv.ReadVolume(ctx, ua, disk.Pool, name, 0, info.CapacityBytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.hv.UploadVolume(ctx, ub, disk.Pool, name, "raw", uint64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
}

// waitTask waits until the task has ended (the VM is recorded on its new
// host before the old host is tidied up).
func waitTask(t *testing.T, f *crash.Fixture, id string) *compute.TaskDetail {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		td, err := f.Tasks.Get(t.Context(), f.AdminViewer, id)
		if err != nil {
			t.Fatal(err)
		}
		if td.Task.Status != compute.TaskQueued && td.Task.Status != compute.TaskRunning {
			return td
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s still %s", id, td.Task.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// guestCounter reads the guest's uptime counter from its console, waiting
// up to two minutes: a TCG guest may still be booting on a loaded machine.
func guestCounter(t *testing.T, hv *hypervisor.Manager, uri, dom string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	con, err := hv.OpenConsole(ctx, uri, dom)
	if err != nil {
		t.Fatalf("console of %s: %v", dom, err)
	}
	defer con.Close()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := con.Read(buf)
		out.Write(buf[:n])
		if c, ok := hvtest.GuestCounter(out.String()); ok {
			return c
		}
		if err != nil || ctx.Err() != nil {
			t.Fatalf("no counter on the console of %s on %s: %v; got %q", dom, uri, err, out.String())
		}
	}
}

func tokenOf(t *testing.T, db *models.DB, userID string) string {
	t.Helper()
	_, secret, err := account.NewTokens(db, account.NewAccounts(db)).Create(context.Background(), models.SystemActor("test"), userID, "test")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}
