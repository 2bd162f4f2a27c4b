package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/moderation"
	"allmende/models/rulebook"
)

// caseLogHas waits until the case log holds a line containing s.
func caseLogHas(t *testing.T, mod *moderation.Moderation, staff models.Actor, caseID, s string) {
	t.Helper()
	waitFor(t, "case log: "+s, func() bool {
		d, err := mod.Case(context.Background(), staff, caseID)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range d.Notes {
			if strings.Contains(n.Body, s) {
				return true
			}
		}
		return false
	})
}

func domState(t *testing.T, uri, dom string) string {
	return strings.TrimSpace(virsh(t, uri, "domstate", dom))
}

// Sanctions act on a real guest through the portal's workers: a throttle
// set live and persistently (blkdeviotune read back, kept over a stop and
// start); a suspension pauses and locks (the owner's start and reboot are
// refused, also through the API); a virsh resume behind the portal's back
// is paused again by the reconciler and the case log says so; lifting lets
// it run. A VM its member had stopped that someone starts with virsh while
// it is suspended is paused too, and after the lift it is off again, as
// the member left it, until the member starts it.
func TestSanctionsOnRealGuest(t *testing.T) {
	f, _, base := vmFixture(t)
	ctx := context.Background()
	uri := f.Host.URI
	mod := moderation.New(f.DB, f.Queue, models.SystemClock{}, nil)
	staff := modelstest.InsertUser(t, f.DB, "Mo", "mo@example.org", account.RoleModerator)
	staff2 := modelstest.InsertUser(t, f.DB, "Max", "max@example.org", account.RoleModerator)
	reporter := modelstest.InsertUser(t, f.DB, "Rita", "rita@example.org", account.RoleMember)

	vm, task, err := f.CreateVM(ctx, "abuser", f.Small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WaitTask(ctx, task.ID, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	dom := vm.DomainName()
	if st := domState(t, uri, dom); st != "running" {
		t.Fatalf("domain %s", st)
	}
	r, err := mod.Report(ctx, reporter, moderation.ReportInput{TargetKind: moderation.TargetVM, Target: "abuser", Category: "attack", Evidence: "floods my server"})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := mod.Cases(ctx, staff, moderation.CaseFilter{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("cases %v, %v", rows, err)
	}
	caseID := rows[0].ID

	// Throttle: disk limits read back from libvirt, live and persistent.
	if _, err := mod.Sanction(ctx, staff, caseID, moderation.SanctionInput{Kind: rulebook.SanctionThrottle, Reason: "flooding"}); err != nil {
		t.Fatal(err)
	}
	caseLogHas(t, mod, staff, caseID, "throttle set on abuser")
	for _, scope := range []string{"--live", "--config"} {
		if io := virsh(t, uri, "blkdeviotune", dom, "vda", scope); !strings.Contains(io, "write_bytes_sec: 1048576") {
			t.Fatalf("blkdeviotune %s:\n%s", scope, io)
		}
		if cpu := virsh(t, uri, "schedinfo", dom, scope); !strings.Contains(cpu, "vcpu_quota     : 20000") {
			t.Fatalf("schedinfo %s:\n%s", scope, cpu)
		}
	}
	// Over a stop and a start through the portal the limit stays.
	runTask(t, f, "power off", func() (*compute.Task, error) { return f.VMs.PowerOff(ctx, f.Member, f.MemberViewer, vm.ID) })
	runTask(t, f, "start", func() (*compute.Task, error) { return f.VMs.Start(ctx, f.Member, f.MemberViewer, vm.ID) })
	if io := virsh(t, uri, "blkdeviotune", dom, "vda", "--live"); !strings.Contains(io, "write_bytes_sec: 1048576") {
		t.Fatalf("after a restart:\n%s", io)
	}
	if cpu := virsh(t, uri, "schedinfo", dom, "--live"); !strings.Contains(cpu, "vcpu_quota     : 20000") {
		t.Fatalf("after a restart:\n%s", cpu)
	}

	// Suspend: paused and locked.
	sv, err := mod.Sanction(ctx, staff, caseID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM, Reason: "still flooding"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "domain paused", func() bool { return domState(t, uri, dom) == "paused" })
	_, err = f.VMs.Reboot(ctx, f.Member, f.MemberViewer, vm.ID)
	if de := modelstest.WantCode(t, err, http.StatusConflict); !strings.Contains(de.Safe, "suspended") {
		t.Fatalf("reboot refused with %q", de.Safe)
	}
	c := newClient(t, base)
	resp, body := c.api(http.MethodPost, "/api/v1/vms/"+vm.ID+"/reboot", f.MemberToken)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "suspended") {
		t.Fatalf("API reboot of a suspended VM: %d %s", resp.StatusCode, body)
	}
	// Resumed behind the portal's back: paused again.
	virsh(t, uri, "resume", dom)
	if st := domState(t, uri, dom); st != "running" {
		t.Fatalf("after virsh resume: %s", st)
	}
	deadline := time.Now().Add(60 * time.Second)
	for domState(t, uri, dom) != "paused" {
		if time.Now().After(deadline) {
			t.Fatal("the reconciler did not pause the locked VM again")
		}
		if err := f.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	caseLogHas(t, mod, staff, caseID, "resumed behind the portal's back); paused again")

	// Lift: it runs again (the domain resumes, the lock is gone).
	if err := mod.Lift(ctx, staff2, sv.ID, "the member cleaned up"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "domain running after the lift", func() bool { return domState(t, uri, dom) == "running" })
	caseLogHas(t, mod, staff, caseID, "no longer locked; resumed")
	wantVM(t, f, vm.ID, compute.VMRunning)

	// Stopped and suspended: the owner cannot start it until the lift.
	runTask(t, f, "power off", func() (*compute.Task, error) { return f.VMs.PowerOff(ctx, f.Member, f.MemberViewer, vm.ID) })
	sv2, err := mod.Sanction(ctx, staff, caseID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM, Reason: "again"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = c.api(http.MethodPost, "/api/v1/vms/"+vm.ID+"/start", f.MemberToken)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "suspended") {
		t.Fatalf("API start of a suspended VM: %d %s", resp.StatusCode, body)
	}
	// Started behind the portal's back (virsh): the reconciler pauses it.
	virsh(t, uri, "start", dom)
	deadline = time.Now().Add(60 * time.Second)
	for domState(t, uri, dom) != "paused" {
		if time.Now().After(deadline) {
			t.Fatal("the reconciler did not pause the locked VM started behind the portal's back")
		}
		if err := f.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	caseLogHas(t, mod, staff, caseID, "running although its member had stopped it (started behind the portal's back); paused")
	// The lift leaves it as its member did: off, not paused, not running;
	// the reconciler keeps it so.
	if err := mod.Lift(ctx, staff2, sv2.ID, "done"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "domain shut off after the lift", func() bool { return domState(t, uri, dom) == "shut off" })
	caseLogHas(t, mod, staff, caseID, "switched off, as its member had stopped it")
	if err := f.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st := domState(t, uri, dom); st != "shut off" {
		t.Fatalf("after the lift and a reconcile: %s", st)
	}
	wantVM(t, f, vm.ID, compute.VMStopped)
	runTask(t, f, "start after the lift", func() (*compute.Task, error) { return f.VMs.Start(ctx, f.Member, f.MemberViewer, vm.ID) })
	if st := domState(t, uri, dom); st != "running" {
		t.Fatalf("after the lift and start: %s", st)
	}
	if st, err := mod.Status(ctx, reporter.UserID, r.Ref); err != nil || st.Status != "action_taken" {
		t.Fatalf("reporter's status %+v, %v", st, err)
	}
}
