package web_test

import (
	"bytes"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"allmende/e2e/crash"
	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/replication"
	"allmende/web"
)

// Failover on the two-host rig, through the portal: a member's VM on host
// a with good copies on b (a full and an incremental one of data written
// into the running guest's disk), host a killed whole (SIGKILL to its
// holder, as a power cut), the admin's fencing confirmation through the
// failover form, the failover job starting the VM on b from the copy
// (measured from the confirmation), and host a coming back: its stale
// domain is never started, it is removed with its disk, the fencing ends,
// and a is the VM's replica host again with a full copy.
func TestFailoverOnRig(t *testing.T) {
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
	resp, body = member.submit("/vms/new", "/vms", url.Values{"name": {"moved"}, "plan_id": {plan.ID}, "image_id": {disk.ID}})
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

	// Good copies on b: a full one, then one with known data.
	full, since := untilGood(t, f.DB, clock, vmID, 0)
	seen := len(since)
	guestWrite(t, ua, dom, 0x5a, "1M", "256k")
	clock.Set(clock.Now().Add(301 * time.Second))
	_, since = untilGood(t, f.DB, clock, vmID, seen)
	seen += len(since)
	t.Logf("copies on b: full %d bytes in %s, then incremental", full.BytesSent, full.Duration())
	got, err := p.hv.ReadVolume(ctx, ub, disk.Pool, vol, 1<<20, 256<<10)
	if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 256<<10)) {
		t.Fatalf("copy on b lacks the written data: %v", err)
	}
	// The starter image boots its kernel directly: b needs the image's
	// kernel and initrd as well (an admin imports images on every host).
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

	// Host a is gone; the portal finds it not answering.
	if err := hypervisor.KillRigHost(p.dir, "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.Hosts.StoreUnreachable(ctx, hostA.ID, errorString("connection refused")); err != nil {
		t.Fatal(err)
	}
	_, body = member.get("/vms/" + vmID)
	wantContains(t, body, "host not answering")
	_, body = admin.get("/admin/hosts")
	wantContains(t, body, "/admin/hosts/"+hostA.ID+"/failover")
	page := "/admin/hosts/" + hostA.ID + "/failover"
	resp, body = admin.get(page)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "moved", "started on b")

	// Not without the typed name.
	resp, _ = admin.submit(page, page, url.Values{"confirm": {"yes"}, "host_name": {"b"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)

	start := time.Now()
	resp, body = admin.submit(page, page, url.Values{"confirm": {"yes"}, "host_name": {"a"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm failover: status %d\n%s", resp.StatusCode, body)
	}
	waitVM(t, f, vmID, 60*time.Second, func(vm *compute.VMDetail) bool {
		return vm.State == compute.VMRunning && vm.HostID == hostB.ID
	})
	took := time.Since(start)
	// The task is marked done just after the VM row moves: wait for it.
	vm = waitVM(t, f, vmID, 60*time.Second, func(vm *compute.VMDetail) bool {
		return len(vm.Tasks) > 0 && !vm.Tasks[0].Active()
	})
	t.Logf("failover: running on b %s after the fencing confirmation", took.Round(time.Millisecond))
	if took > 15*time.Second {
		t.Errorf("failover took %s, target 15 s", took)
	}
	if st := strings.TrimSpace(virsh(t, ub, "domstate", dom)); st != "running" {
		t.Fatalf("domain on b: %q", st)
	}
	// The disk the guest runs on is the copy: equal byte for byte, with
	// the data written on a.
	eq, diff, err := p.hv.CompareReplica(ctx, hypervisor.CompareRequest{SourceURI: ub, Domain: dom, Disk: "vda",
		Target: hypervisor.ReplicaTarget{URI: ub, Pool: disk.Pool, Volume: vol}})
	if err != nil || !eq {
		t.Fatalf("disk on b differs from the copy at %d: %v", diff, err)
	}
	task := vm.Tasks[0]
	if task.Kind != compute.ActionFailover || task.Status != compute.TaskSucceeded || task.StartedBy != "admin@fixture.example" {
		t.Fatalf("task %+v", task)
	}
	td, err := f.Tasks.Get(ctx, f.AdminViewer, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, l := range td.Lines {
		log = append(log, l.Line)
	}
	t.Logf("task log:\n  %s", strings.Join(log, "\n  "))
	wantContains(t, strings.Join(log, "\n"), "defined on b from the copy of", "started on b", "last good copy was")
	var fenced int64
	f.DB.Gorm.Table("audit_events").Where("action = ? AND actor_email = ? AND target_id = ?", "host.fenced", "admin@fixture.example", hostA.ID).Count(&fenced)
	if fenced != 1 {
		t.Fatalf("fencing audit entries: %d", fenced)
	}

	// Host a comes back: the stale domain there never runs; it goes with
	// its disk, and the fencing ends.
	if p.a, err = hypervisor.StartRigHost(ctx, p.dir, "a", p.opts[0], hvtest.Logger(t)); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for {
		out, err := exec.Command("virsh", "-c", ua, "domstate", dom).CombinedOutput()
		if err == nil && strings.TrimSpace(string(out)) == "running" {
			t.Fatalf("the stale domain runs on a")
		}
		h, herr := f.Hosts.Get(ctx, hostA.ID)
		if herr != nil {
			t.Fatal(herr)
		}
		if err != nil && !h.Fenced() {
			break // gone, and a is no longer fenced
		}
		if time.Since(back) > 60*time.Second {
			t.Fatalf("stale copy on a not removed within 60 s (domstate %q, fenced %v)", out, h.Fenced())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("host a back: stale copy removed and fencing ended %s after its restart", time.Since(back).Round(time.Millisecond))
	if _, err := p.hv.VolumeInfo(ctx, ua, disk.Pool, vol); !hypervisor.IsNotFound(err) {
		t.Fatalf("old disk on a: %v", err)
	}
	if st := strings.TrimSpace(virsh(t, ub, "domstate", dom)); st != "running" {
		t.Fatalf("domain on b after a came back: %q", st)
	}

	// a is the replica host now, with a full copy of the disk on b.
	var rep replication.Replica
	if err := f.DB.Gorm.Where("vm_id = ?", vmID).First(&rep).Error; err != nil || rep.ReplicaHostID != hostA.ID {
		t.Fatalf("replica after failover: %+v %v", rep, err)
	}
	clock.Set(clock.Now().Add(301 * time.Second))
	back2, _ := untilGood(t, f.DB, clock, vmID, seen)
	if back2.Kind != replication.RunFull || back2.ReplicaHostID != hostA.ID {
		t.Fatalf("first run back to a: %+v", back2)
	}
	t.Logf("full copy back to a: %d bytes in %s", back2.BytesSent, back2.Duration())
	newVM, _ := f.VMs.Get(ctx, f.AdminViewer, vmID)
	got, err = p.hv.ReadVolume(ctx, ua, disk.Pool, newVM.DiskVolume(), 1<<20, 256<<10)
	if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 256<<10)) {
		t.Fatalf("copy on a lacks the data: %v", err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// waitVM waits until ok holds for the VM.
func waitVM(t *testing.T, f *crash.Fixture, vmID string, within time.Duration, ok func(*compute.VMDetail) bool) *compute.VMDetail {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		vm, err := f.VMs.Get(t.Context(), f.AdminViewer, vmID)
		if err != nil {
			t.Fatal(err)
		}
		if ok(vm) {
			return vm
		}
		if vm.State == compute.VMError || time.Now().After(deadline) {
			t.Fatalf("VM %s: %s on %s (%s)", vmID, vm.State, vm.HostID, vm.StateReason)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
