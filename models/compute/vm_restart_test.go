package compute_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

// observe runs RecordDrift as if the reconciler found vm's domain running
// or shut off.
func (e *vmEnv) observe(t *testing.T, vmID string, running bool) {
	t.Helper()
	if err := e.vms.RecordDrift(context.Background(), e.host.ID, []compute.ObservedDomain{{Name: "allmende-" + vmID, Running: running}}); err != nil {
		t.Fatal(err)
	}
}

func (e *vmEnv) detail(t *testing.T, vmID string) *compute.VMDetail {
	t.Helper()
	d, err := e.vms.Get(context.Background(), e.adminV, vmID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// wantRestart checks that the reconciler began automatic restart number
// attempt, and lets its start job succeed.
func (e *vmEnv) wantRestart(t *testing.T, vmID string, attempt int) {
	t.Helper()
	ctx := context.Background()
	d := e.detail(t, vmID)
	if d.State != compute.VMStarting || d.ActiveTask == nil || d.ActiveTask.Kind != compute.ActionRestart {
		t.Fatalf("attempt %d: state %s, task %+v; want a restart under way", attempt, d.State, d.ActiveTask)
	}
	if want := "stopped unexpectedly — restarting (attempt " + string(rune('0'+attempt)) + " of 3)"; d.StateReason != want || d.ObservedState() != compute.VMStopped {
		t.Errorf("attempt %d: reason %q, observed %s; want %q, stopped", attempt, d.StateReason, d.ObservedState(), want)
	}
	task, err := e.tasks.Get(ctx, e.adminV, d.ActiveTask.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(task.Lines) == 0 || task.Lines[0].Line != compute.RestartedLine || task.StartedBy != "system:reconcile" {
		t.Errorf("attempt %d: restart task %+v", attempt, task)
	}
	if n := modelstest.Count(t, e.db, "river_job", "kind = 'vm.start' AND id = ?", *d.ActiveTask.RiverJobID); n != 1 {
		t.Errorf("attempt %d: start job not queued", attempt)
	}
	// A second look while the job works changes nothing.
	before := vmSnapshot(t, e.db)
	e.observe(t, vmID, false)
	sameVMSnapshot(t, e.db, before, "a second look during a restart")
	// The start job's outcome.
	if err := e.vms.SetState(ctx, vmID, compute.VMRunning, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.tasks.Succeed(ctx, d.ActiveTask.ID); err != nil {
		t.Fatal(err)
	}
	if d := e.detail(t, vmID); d.State != compute.VMRunning || d.StoppedUnexpectedly() || d.StateReason != "" {
		t.Errorf("attempt %d: after the start job: %s, %q, unexpected %v", attempt, d.State, d.StateReason, d.StoppedUnexpectedly())
	}
}

// A VM its member left running that stops without a portal action is
// started again: at once, then after 1 and 2 minutes, and at most three
// times in an hour; then it is left stopped, saying so.
func TestAutoRestart(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		vm := e.create(t, ada, adaV, "web")
		e.force(t, vm.ID, compute.VMRunning)
		if d := e.detail(t, vm.ID); !d.AutoRestart {
			t.Fatal("automatic restart is off for a new VM")
		}
		start := e.clock.Now()

		e.observe(t, vm.ID, false)
		e.wantRestart(t, vm.ID, 1)

		// Down again 30 s later: the second restart waits a minute after
		// the first; meanwhile the member reads what the VM is.
		e.clock.Set(start.Add(30 * time.Second))
		e.observe(t, vm.ID, false)
		d := e.detail(t, vm.ID)
		if d.State != compute.VMRunning || d.ActiveTask != nil || d.ObservedState() != compute.VMStopped ||
			d.StateReason != "stopped unexpectedly — restarting at 10:01 UTC (attempt 2 of 3)" {
			t.Fatalf("during the back-off: %s, task %v, observed %s, %q", d.State, d.ActiveTask, d.ObservedState(), d.StateReason)
		}
		if o, _ := e.vms.Drift(ctx, e.adminV); len(o.Reports) != 1 || o.Reports[0].Kind != compute.DriftMismatch {
			t.Errorf("drift during the back-off: %+v", o.Reports)
		}
		e.clock.Set(start.Add(time.Minute))
		e.observe(t, vm.ID, false)
		e.wantRestart(t, vm.ID, 2)

		// The third waits two minutes after the second.
		e.clock.Set(start.Add(2*time.Minute + 59*time.Second))
		e.observe(t, vm.ID, false)
		if s := e.state(t, vm.ID); s != compute.VMRunning {
			t.Fatalf("restarted before its back-off: %s", s)
		}
		e.clock.Set(start.Add(3 * time.Minute))
		e.observe(t, vm.ID, false)
		e.wantRestart(t, vm.ID, 3)
		e.observe(t, vm.ID, true)
		if o, _ := e.vms.Drift(ctx, e.adminV); len(o.Reports) != 0 {
			t.Errorf("drift once running: %+v", o.Reports)
		}

		// A fourth stop within the hour: the reconciler gives up.
		e.clock.Set(start.Add(30 * time.Minute))
		e.observe(t, vm.ID, false)
		d = e.detail(t, vm.ID)
		if d.State != compute.VMStopped || d.ActiveTask != nil || !d.StoppedUnexpectedly() ||
			d.StateReason != "stopped unexpectedly — automatic restart gave up after 3 tries in an hour" {
			t.Fatalf("after the limit: %s, task %v, %q", d.State, d.ActiveTask, d.StateReason)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'vm.auto_restart_gave_up' AND target_id = ?", vm.ID); n != 1 {
			t.Errorf("gave-up audit entries: %d", n)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'vm.stopped_unexpectedly' AND target_id = ?", vm.ID); n != 4 {
			t.Errorf("unexpected-stop audit entries: %d, want 4", n)
		}
		e.observe(t, vm.ID, false) // stopped as the database says now: nothing to do
		if n := modelstest.Count(t, db, "tasks", "vm_id = ? AND kind = 'restart'", vm.ID); n != 3 {
			t.Errorf("restart tasks: %d, want 3", n)
		}

		// The member starts it; an hour after the first restart the
		// budget is whole again.
		task, err := e.vms.Start(ctx, ada, adaV, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.vms.SetState(ctx, vm.ID, compute.VMRunning, ""); err != nil {
			t.Fatal(err)
		}
		if err := e.tasks.Succeed(ctx, task.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(start.Add(time.Hour))
		e.observe(t, vm.ID, false)
		e.wantRestart(t, vm.ID, 1)
	})
}

// With automatic restart off, a VM that stops unexpectedly is left
// stopped, saying so; a VM its member stopped and a VM whose domain is gone
// are never started by the reconciler.
func TestAutoRestartOff(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		_, bobV := e.member(t, "bob@example.org")
		off := e.create(t, ada, adaV, "off")
		stopped := e.create(t, ada, adaV, "stopped")
		gone := e.create(t, ada, adaV, "gone")
		e.force(t, off.ID, compute.VMRunning)
		e.force(t, stopped.ID, compute.VMStopped)
		e.force(t, gone.ID, compute.VMRunning)

		modelstest.WantCode(t, e.vms.SetAutoRestart(ctx, ada, bobV, off.ID, false), http.StatusNotFound)
		if err := e.vms.SetAutoRestart(ctx, ada, adaV, off.ID, false); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'vm.auto_restart' AND target_id = ?", off.ID); n != 1 {
			t.Errorf("setting audit entries: %d", n)
		}
		before := modelstest.Count(t, db, "tasks", "")
		err := e.vms.RecordDrift(ctx, e.host.ID, []compute.ObservedDomain{
			{Name: "allmende-" + off.ID}, {Name: "allmende-" + stopped.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "tasks", ""); n != before {
			t.Errorf("the reconciler queued %d tasks", n-before)
		}
		d := e.detail(t, off.ID)
		if d.State != compute.VMStopped || !d.StoppedUnexpectedly() || d.StateReason != "stopped unexpectedly — automatic restart off" {
			t.Errorf("vm with restart off: %s, %q", d.State, d.StateReason)
		}
		if !d.Allows(compute.ActionStart) {
			t.Error("its member cannot start it")
		}
		if d := e.detail(t, stopped.ID); d.State != compute.VMStopped || d.StoppedUnexpectedly() || d.StateReason != "" {
			t.Errorf("vm its member stopped: %s, %q", d.State, d.StateReason)
		}
		if d := e.detail(t, gone.ID); d.State != compute.VMMissing || !strings.Contains(d.StateReason, "disappeared") {
			t.Errorf("vm without domain: %s, %q", d.State, d.StateReason)
		}
		// Its member starts it: once running, it is no longer "stopped
		// unexpectedly".
		task, err := e.vms.Start(ctx, ada, adaV, off.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.vms.SetState(ctx, off.ID, compute.VMRunning, ""); err != nil {
			t.Fatal(err)
		}
		if err := e.tasks.Succeed(ctx, task.ID); err != nil {
			t.Fatal(err)
		}
		if d := e.detail(t, off.ID); d.StoppedUnexpectedly() || d.ObservedState() != compute.VMRunning || d.AutoRestart {
			t.Errorf("after the member's start: %+v", d.VM)
		}
	})
}

// A guest that powered itself off (poweroff inside the VM) was stopped by
// its member's choice: the VM becomes stopped, nothing is restarted, and a
// later crash of another VM is still restarted.
func TestGuestShutdownIsNotRestarted(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		inside := e.create(t, ada, adaV, "inside")
		crashed := e.create(t, ada, adaV, "crashed")
		e.force(t, inside.ID, compute.VMRunning)
		e.force(t, crashed.ID, compute.VMRunning)
		before := modelstest.Count(t, db, "tasks", "")
		err := e.vms.RecordDrift(ctx, e.host.ID, []compute.ObservedDomain{
			{Name: "allmende-" + inside.ID, GuestShutdown: true}, {Name: "allmende-" + crashed.ID}})
		if err != nil {
			t.Fatal(err)
		}
		d := e.detail(t, inside.ID)
		if d.State != compute.VMStopped || d.StoppedUnexpectedly() || d.StateReason != compute.ReasonGuestShutdown {
			t.Errorf("vm shut down inside: %s, unexpected %v, %q", d.State, d.StoppedUnexpectedly(), d.StateReason)
		}
		if !d.Allows(compute.ActionStart) {
			t.Error("its member cannot start it")
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'vm.guest_shutdown' AND target_id = ?", inside.ID); n != 1 {
			t.Errorf("guest shutdown audit entries: %d", n)
		}
		if n := modelstest.Count(t, db, "tasks", ""); n != before+1 {
			t.Errorf("tasks queued: %d, want 1 (the crashed VM's restart)", n-before)
		}
		if d := e.detail(t, crashed.ID); d.State != compute.VMStarting || d.ActiveTask == nil || d.ActiveTask.Kind != compute.ActionRestart {
			t.Errorf("crashed vm: %s, task %+v; want a restart under way", d.State, d.ActiveTask)
		}
	})
}
