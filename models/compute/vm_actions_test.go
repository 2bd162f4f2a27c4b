package compute_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

var allStates = []compute.VMState{compute.VMProvisioning, compute.VMStopped, compute.VMStarting, compute.VMRunning,
	compute.VMStopping, compute.VMRebooting, compute.VMResizing, compute.VMDeleting, compute.VMDeleted, compute.VMError, compute.VMMissing}

func TestVMStateMachine(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		vm := e.create(t, ada, adaV, "web")
		// Each allowed resize grows the disk to the next of these plans.
		growing := []*compute.Plan{e.addPlan(t, "disk-20", 1, 1024, 20), e.addPlan(t, "disk-30", 1, 1024, 30), e.addPlan(t, "disk-40", 1, 1024, 40)}

		actions := map[compute.VMAction]func() (*compute.Task, error){
			compute.ActionStart:       func() (*compute.Task, error) { return e.vms.Start(ctx, ada, adaV, vm.ID) },
			compute.ActionShutdown:    func() (*compute.Task, error) { return e.vms.Shutdown(ctx, ada, adaV, vm.ID) },
			compute.ActionPowerOff:    func() (*compute.Task, error) { return e.vms.PowerOff(ctx, ada, adaV, vm.ID) },
			compute.ActionReboot:      func() (*compute.Task, error) { return e.vms.Reboot(ctx, ada, adaV, vm.ID) },
			compute.ActionReprovision: func() (*compute.Task, error) { return e.vms.Reprovision(ctx, ada, adaV, vm.ID) },
			compute.ActionDelete:      func() (*compute.Task, error) { return e.vms.Delete(ctx, ada, adaV, vm.ID, "web") },
			compute.ActionResize: func() (*compute.Task, error) {
				d, err := e.vms.Get(ctx, adaV, vm.ID)
				if err != nil {
					return nil, err
				}
				to := growing[len(growing)-1]
				for _, p := range growing {
					if p.DiskGiB > d.DiskGiB {
						to = p
						break
					}
				}
				return e.vms.Resize(ctx, ada, adaV, vm.ID, to.ID)
			},
		}
		allowed := map[compute.VMAction][]compute.VMState{
			compute.ActionStart:       {compute.VMStopped, compute.VMError},
			compute.ActionShutdown:    {compute.VMRunning},
			compute.ActionPowerOff:    {compute.VMRunning, compute.VMError},
			compute.ActionReboot:      {compute.VMRunning},
			compute.ActionReprovision: {compute.VMMissing, compute.VMError},
			compute.ActionDelete:      {compute.VMStopped, compute.VMRunning, compute.VMError, compute.VMMissing},
			compute.ActionResize:      {compute.VMStopped, compute.VMRunning},
		}
		to := map[compute.VMAction]compute.VMState{
			compute.ActionStart: compute.VMStarting, compute.ActionShutdown: compute.VMStopping, compute.ActionPowerOff: compute.VMStopping,
			compute.ActionReboot: compute.VMRebooting, compute.ActionReprovision: compute.VMProvisioning,
			compute.ActionDelete: compute.VMDeleting, compute.ActionResize: compute.VMResizing,
		}
		for action, run := range actions {
			for _, from := range allStates {
				e.force(t, vm.ID, from)
				want := false
				for _, s := range allowed[action] {
					want = want || s == from
				}
				if got := from.Allows(action); got != want {
					t.Errorf("%s.Allows(%s) = %v, want %v", from, action, got, want)
				}
				before := vmSnapshot(t, db)
				task, err := run()
				if !want {
					if de := modelstest.WantCode(t, err, http.StatusConflict); de.Safe == "" {
						t.Errorf("%s from %s: empty message", action, from)
					}
					sameVMSnapshot(t, db, before, string(action)+" from "+string(from))
					if s := e.state(t, vm.ID); s != from {
						t.Errorf("%s from %s changed the state to %s", action, from, s)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s from %s: %v", action, from, err)
				}
				if s := e.state(t, vm.ID); s != to[action] {
					t.Errorf("%s from %s: state %s, want %s", action, from, s, to[action])
				}
				if task.Kind != action || task.RiverJobID == nil {
					t.Errorf("%s from %s: task %+v", action, from, task)
				}
				if n := modelstest.Count(t, db, "tasks", ""); n != before["tasks"]+1 {
					t.Errorf("%s from %s: %d new tasks", action, from, n-before["tasks"])
				}
				if n := modelstest.Count(t, db, "river_job", ""); n != before["river_job"]+1 {
					t.Errorf("%s from %s: %d new jobs", action, from, n-before["river_job"])
				}
				// A second action while the first is at work is refused.
				_, err = e.vms.Start(ctx, ada, adaV, vm.ID)
				modelstest.WantCode(t, err, http.StatusConflict)
			}
		}
	})
}

func TestOtherMembersVMIsNotFound(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		bob, bobV := e.member(t, "bob@example.org")
		vm := e.create(t, ada, adaV, "web")
		bigger := e.addPlan(t, "bigger", 1, 1024, 20)
		tasks, err := e.tasks.List(ctx, adaV, compute.TaskFilter{VMID: vm.ID})
		if err != nil || len(tasks) != 1 {
			t.Fatalf("ada's tasks = %v, %v", tasks, err)
		}
		e.force(t, vm.ID, compute.VMStopped)
		if err := db.Gorm.Exec("UPDATE tasks SET status = 'failed'").Error; err != nil {
			t.Fatal(err)
		}

		before := vmSnapshot(t, db)
		for name, call := range map[string]func() error{
			"Get":         func() error { _, err := e.vms.Get(ctx, bobV, vm.ID); return err },
			"Start":       func() error { _, err := e.vms.Start(ctx, bob, bobV, vm.ID); return err },
			"Shutdown":    func() error { _, err := e.vms.Shutdown(ctx, bob, bobV, vm.ID); return err },
			"PowerOff":    func() error { _, err := e.vms.PowerOff(ctx, bob, bobV, vm.ID); return err },
			"Reboot":      func() error { _, err := e.vms.Reboot(ctx, bob, bobV, vm.ID); return err },
			"Reprovision": func() error { _, err := e.vms.Reprovision(ctx, bob, bobV, vm.ID); return err },
			"Resize":      func() error { _, err := e.vms.Resize(ctx, bob, bobV, vm.ID, bigger.ID); return err },
			"Delete":      func() error { _, err := e.vms.Delete(ctx, bob, bobV, vm.ID, "web"); return err },
			"SetShutdownTimeout": func() error {
				return e.vms.SetShutdownTimeout(ctx, bob, bobV, vm.ID, 2*time.Minute)
			},
			"Tasks.Get":   func() error { _, err := e.tasks.Get(ctx, bobV, tasks[0].ID); return err },
			"Tasks.Retry": func() error { _, err := e.tasks.Retry(ctx, bob, bobV, tasks[0].ID); return err },
		} {
			de, ok := models.AsError(call())
			if !ok || de.Code != http.StatusNotFound {
				t.Errorf("%s on another member's VM: %v, want 404", name, de)
			}
		}
		sameVMSnapshot(t, db, before, "another member's calls")
		if list, err := e.vms.List(ctx, bobV, compute.VMFilter{}); err != nil || len(list) != 0 {
			t.Errorf("bob lists %v, %v", list, err)
		}
		if list, err := e.tasks.List(ctx, bobV, compute.TaskFilter{}); err != nil || len(list) != 0 {
			t.Errorf("bob lists tasks %v, %v", list, err)
		}
		// Admins see and act on every VM.
		if list, err := e.vms.List(ctx, e.adminV, compute.VMFilter{}); err != nil || len(list) != 1 || list[0].OwnerEmail != ada.Email {
			t.Errorf("admin lists %v, %v", list, err)
		}
		if err := e.vms.SetShutdownTimeout(ctx, e.admin, e.adminV, vm.ID, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		if d, _ := e.vms.Get(ctx, adaV, vm.ID); d.ShutdownTimeout() != 2*time.Minute {
			t.Errorf("shutdown timeout = %s", d.ShutdownTimeout())
		}
	})
}

func TestResize(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnvWith(t, db, compute.FixedEntitlement{VCPUs: 2, MemoryMiB: 4096, DiskGiB: 30})
		ada, adaV := e.member(t, "ada@example.org")
		vm := e.create(t, ada, adaV, "web")
		e.force(t, vm.ID, compute.VMRunning)
		tinyDisk := e.addPlan(t, "tiny-disk", 1, 1024, 5)
		moreCPU := e.addPlan(t, "more-cpu", 2, 1024, 10)
		moreDisk := e.addPlan(t, "more-disk", 1, 1024, 20)
		tooBig := e.addPlan(t, "too-big", 4, 1024, 10)

		before := vmSnapshot(t, db)
		_, err := e.vms.Resize(ctx, ada, adaV, vm.ID, tinyDisk.ID)
		modelstest.FieldErr(t, err, "plan_id")
		_, err = e.vms.Resize(ctx, ada, adaV, vm.ID, moreCPU.ID)
		modelstest.WantCode(t, err, http.StatusConflict) // vCPUs change only while stopped
		_, err = e.vms.Resize(ctx, ada, adaV, vm.ID, e.plan.ID)
		modelstest.FieldErr(t, err, "plan_id")
		e.force(t, vm.ID, compute.VMStopped)
		_, err = e.vms.Resize(ctx, ada, adaV, vm.ID, tooBig.ID)
		modelstest.FieldErr(t, err, "plan_id") // quota
		sameVMSnapshot(t, db, before, "refused resizes")

		// Running, the disk may grow.
		e.force(t, vm.ID, compute.VMRunning)
		task, err := e.vms.Resize(ctx, ada, adaV, vm.ID, moreDisk.ID)
		if err != nil {
			t.Fatal(err)
		}
		j, err := e.vms.ForJob(ctx, vm.ID)
		if err != nil || j.DiskGiB != 20 || j.VM.State != compute.VMResizing || j.VM.PriorState != compute.VMRunning {
			t.Fatalf("after resize: %+v, %v", j, err)
		}
		if n := modelstest.Count(t, db, "river_job", "id = ? AND kind = 'vm.resize'", *task.RiverJobID); n != 1 {
			t.Error("no vm.resize job")
		}
		if err := e.tasks.Succeed(ctx, task.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.vms.SetState(ctx, vm.ID, compute.VMStopped, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vms.Resize(ctx, ada, adaV, vm.ID, moreCPU.ID); err == nil {
			t.Error("disk shrank from 20 to 10 GiB")
		}
	})
}

func TestDeleteAndMarkDeleted(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		vm := e.create(t, ada, adaV, "web")
		e.force(t, vm.ID, compute.VMRunning)

		before := vmSnapshot(t, db)
		for _, wrong := range []string{"", "WEB", "web-", "other"} {
			_, err := e.vms.Delete(ctx, ada, adaV, vm.ID, wrong)
			modelstest.FieldErr(t, err, "confirm")
		}
		sameVMSnapshot(t, db, before, "unconfirmed delete")
		task, err := e.vms.Delete(ctx, ada, adaV, vm.ID, " web ")
		if err != nil {
			t.Fatal(err)
		}
		// The address is held until the domain is gone.
		if n := modelstest.Count(t, db, "ip_allocations", "vm_id = ?", vm.ID); n != 1 {
			t.Errorf("allocations while deleting = %d", n)
		}
		for range 2 {
			if err := e.vms.MarkDeleted(ctx, vm.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.tasks.Succeed(ctx, task.ID); err != nil {
			t.Fatal(err)
		}
		if s := e.state(t, vm.ID); s != compute.VMDeleted {
			t.Errorf("state = %s", s)
		}
		if n := modelstest.Count(t, db, "ip_allocations", ""); n != 0 {
			t.Errorf("allocations after delete = %d", n)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'vm.deleted' AND target_id = ?", vm.ID); n != 1 {
			t.Errorf("vm.deleted audit entries = %d, want 1", n)
		}
		modelstest.WantCode(t, e.vms.SetState(ctx, vm.ID, compute.VMRunning, ""), http.StatusConflict)
		if list, _ := e.vms.List(ctx, adaV, compute.VMFilter{}); len(list) != 0 {
			t.Errorf("deleted vm listed: %v", list)
		}
		// The name and the address are free again.
		again := e.create(t, ada, adaV, "web")
		if j, _ := e.vms.ForJob(ctx, again.ID); j.IPAddress != "10.0.0.2" {
			t.Errorf("new vm got %s, want the freed 10.0.0.2", j.IPAddress)
		}
		modelstest.WantCode(t, e.vms.MarkDeleted(ctx, "no-such-vm"), http.StatusNotFound)
	})
}

func TestTaskLogAndRetry(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		vm, task, err := e.vms.Create(ctx, ada, adaV, compute.VMInput{Name: "web", PlanID: e.plan.ID, ImageID: e.image.ID})
		if err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.tasksRetry(ctx, ada, adaV, task.ID), http.StatusConflict) // not failed

		if err := e.tasks.Start(ctx, task.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.tasks.Start(ctx, task.ID); err != nil { // a retried job
			t.Fatal(err)
		}
		if err := e.tasks.Log(ctx, task.ID, "creating volume allmende-"+vm.ID+"-disk"); err != nil {
			t.Fatal(err)
		}
		if err := e.tasks.Fail(ctx, task.ID, errors.New("storage pool default is full")); err != nil {
			t.Fatal(err)
		}
		if err := e.tasks.Fail(ctx, task.ID, errors.New("again")); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.tasks.Succeed(ctx, task.ID), http.StatusConflict)
		modelstest.WantCode(t, e.tasks.Start(ctx, task.ID), http.StatusConflict)
		d, err := e.tasks.Get(ctx, adaV, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != compute.TaskFailed || d.Error != "storage pool default is full" || d.StartedAt == nil || d.FinishedAt == nil ||
			len(d.Lines) != 2 || d.VMName != "web" {
			t.Errorf("failed task = %+v", d)
		}
		v, _ := e.vms.Get(ctx, adaV, vm.ID)
		if v.State != compute.VMError || v.StateReason != "storage pool default is full" {
			t.Errorf("vm after failed create: %s (%s)", v.State, v.StateReason)
		}

		before := modelstest.Count(t, db, "river_job", "kind = 'vm.create'")
		next, err := e.tasks.Retry(ctx, ada, adaV, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if next.ID == task.ID || next.RetryOf == nil || *next.RetryOf != task.ID || next.Kind != compute.ActionCreate {
			t.Errorf("retry task = %+v", next)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = 'vm.create'"); n != before+1 {
			t.Errorf("create jobs = %d, want %d", n, before+1)
		}
		if s := e.state(t, vm.ID); s != compute.VMProvisioning {
			t.Errorf("state after retry = %s", s)
		}
		modelstest.WantCode(t, e.tasksRetry(ctx, ada, adaV, task.ID), http.StatusConflict) // the VM is busy again
		if err := e.tasks.Succeed(ctx, next.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.vms.SetState(ctx, vm.ID, compute.VMRunning, ""); err != nil {
			t.Fatal(err)
		}

		// A failed shutdown is asked for again, not retried.
		sd, err := e.vms.Shutdown(ctx, ada, adaV, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.tasks.Fail(ctx, sd.ID, errors.New("guest ignored ACPI")); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.tasksRetry(ctx, ada, adaV, sd.ID), http.StatusConflict)

		list, err := e.tasks.List(ctx, adaV, compute.TaskFilter{VMID: vm.ID})
		if err != nil || len(list) != 3 || list[0].ID != sd.ID {
			t.Errorf("task history = %v, %v", list, err)
		}
	})
}

func (e *vmEnv) tasksRetry(ctx context.Context, a models.Actor, v models.Viewer, id string) error {
	_, err := e.tasks.Retry(ctx, a, v, id)
	return err
}
