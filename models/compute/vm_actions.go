package compute

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/internal/kit"
)

// VMAction is something a member asks of a VM; it is also the kind of the
// task that carries it out.
type VMAction string

const (
	ActionCreate      VMAction = "create"
	ActionReprovision VMAction = "reprovision"
	ActionStart       VMAction = "start"
	ActionShutdown    VMAction = "shutdown"
	ActionPowerOff    VMAction = "poweroff"
	ActionReboot      VMAction = "reboot"
	ActionResize      VMAction = "resize"
	ActionDelete      VMAction = "delete"
	// ActionRestart is no member's action: the reconciler starts a VM
	// again that stopped against its member's wish (vm_restart.go).
	ActionRestart VMAction = "restart"
	// ActionFailover is no member's action either: an admin's fencing of
	// a failed host starts the VM on its replica host
	// (models/replication, failover.go).
	ActionFailover VMAction = "failover"
	// ActionSwitchover is an admin's planned move of a running VM to its
	// replica host (models/replication, switchover.go).
	ActionSwitchover VMAction = "switchover"
)

// actionRule says from which states an action may start, which
// transitional state it moves the VM into, and which job does the work.
type actionRule struct {
	from []VMState
	to   VMState
	past string // "started", for messages
	job  func(jobargs.VMTask) river.JobArgs
}

// vmActions is the state machine. Only stable states appear in from: while
// a job works on a VM (a transitional state), nothing else may start.
// Create starts from error only when a failed create is retried; a new VM
// enters provisioning directly.
var vmActions = map[VMAction]actionRule{
	ActionCreate: {from: []VMState{VMError}, to: VMProvisioning, past: "created again",
		job: func(t jobargs.VMTask) river.JobArgs { return jobargs.VMCreate{VMTask: t} }},
	ActionReprovision: {from: []VMState{VMMissing, VMError}, to: VMProvisioning, past: "provisioned again",
		job: func(t jobargs.VMTask) river.JobArgs { return jobargs.VMCreate{VMTask: t} }},
	ActionStart: {from: []VMState{VMStopped, VMError}, to: VMStarting, past: "started",
		job: func(t jobargs.VMTask) river.JobArgs { return jobargs.VMStart{VMTask: t} }},
	ActionShutdown: {from: []VMState{VMRunning}, to: VMStopping, past: "shut down",
		job: func(t jobargs.VMTask) river.JobArgs { return jobargs.VMShutdown{VMTask: t} }},
	ActionPowerOff: {from: []VMState{VMRunning, VMError}, to: VMStopping, past: "powered off",
		job: func(t jobargs.VMTask) river.JobArgs { return jobargs.VMPowerOff{VMTask: t} }},
	ActionReboot: {from: []VMState{VMRunning}, to: VMRebooting, past: "rebooted",
		job: func(t jobargs.VMTask) river.JobArgs { return jobargs.VMReboot{VMTask: t} }},
	ActionResize: {from: []VMState{VMStopped, VMRunning}, to: VMResizing, past: "resized",
		job: func(t jobargs.VMTask) river.JobArgs { return jobargs.VMResize{VMTask: t} }},
	ActionDelete: {from: []VMState{VMStopped, VMRunning, VMError, VMMissing}, to: VMDeleting, past: "deleted",
		job: func(t jobargs.VMTask) river.JobArgs { return jobargs.VMDelete{VMTask: t} }},
	// From running: the database still has the VM as its member left it.
	ActionRestart: {from: []VMState{VMRunning}, to: VMStarting, past: "restarted",
		job: func(t jobargs.VMTask) river.JobArgs { return jobargs.VMStart{VMTask: t} }},
	// From no state through beginActionTx: replication's Failover moves
	// the VM and inserts the task and its job itself. The entry says what a
	// failed failover leaves (Tasks.Fail: starting → error).
	ActionFailover: {to: VMStarting, past: "failed over"},
	// Like failover: Switchover inserts the task and job itself.
	ActionSwitchover: {to: VMStarting, past: "switched over"},
}

// Allows reports whether action a may start from state s.
func (s VMState) Allows(a VMAction) bool {
	r, ok := vmActions[a]
	return ok && slices.Contains(r.from, s)
}

// vmJobOpts: VM jobs are idempotent and retried a few times; after that
// the task fails and the member may retry it.
func vmJobOpts() *river.InsertOpts { return &river.InsertOpts{MaxAttempts: 5} }

func actionConflict(a VMAction, s VMState) *models.Error {
	switch {
	case s == VMDeleted:
		return models.Conflict("This virtual machine has been deleted.")
	case s.Transitional():
		return models.Conflictf("The virtual machine is %s; wait until that has finished.", s)
	}
	return models.Conflictf("A virtual machine that is %s cannot be %s.", s, vmActions[a].past)
}

// beginActionTx moves vm into the action's transitional state, records a
// task and enqueues its job, all in tx. The state update is guarded by the
// state read, and the task by the one-active-task index, so that of two
// concurrent requests only one goes through.
func beginActionTx(ctx context.Context, tx *gorm.DB, q models.Queue, actor models.Actor, vm *VM, a VMAction, retryOf *string, detail map[string]any) (*Task, error) {
	rule, ok := vmActions[a]
	if !ok {
		return nil, fmt.Errorf("unknown vm action %q", a)
	}
	if !slices.Contains(rule.from, vm.State) {
		return nil, actionConflict(a, vm.State)
	}
	if err := checkLocked(vm, a); err != nil {
		return nil, err
	}
	res := tx.Model(&VM{}).Where("id = ? AND state = ?", vm.ID, vm.State).
		Updates(map[string]any{"state": rule.to, "prior_state": vm.State, "state_reason": "", "updated_at": kit.UTCNow()})
	if res.Error != nil {
		return nil, fmt.Errorf("move vm %s to %s: %w", vm.ID, rule.to, res.Error)
	}
	if res.RowsAffected != 1 {
		return nil, models.Conflict("The virtual machine changed meanwhile; reload the page and try again.")
	}
	prior := vm.State
	vm.State, vm.PriorState, vm.StateReason = rule.to, prior, ""
	t, err := startTaskTx(ctx, tx, q, actor, vm, a, retryOf)
	if err != nil {
		return nil, err
	}
	if detail == nil {
		detail = map[string]any{}
	}
	detail["task_id"], detail["from"] = t.ID, prior
	if retryOf != nil {
		detail["retry_of"] = *retryOf
	}
	if err := kit.RecordAudit(tx, actor, "vm."+string(a), "vm", vm.ID, detail); err != nil {
		return nil, err
	}
	return t, nil
}

// startTaskTx records a queued task for vm and enqueues its job in tx,
// storing River's job id on the task.
func startTaskTx(ctx context.Context, tx *gorm.DB, q models.Queue, actor models.Actor, vm *VM, a VMAction, retryOf *string) (*Task, error) {
	t := &Task{ID: kit.NewID(), VMID: vm.ID, OwnerID: vm.OwnerID, Kind: a, Status: TaskQueued,
		StartedBy: actor.Email, RetryOf: retryOf, CreatedAt: kit.UTCNow()}
	if err := tx.Create(t).Error; err != nil {
		if kit.IsUniqueViolation(err) {
			return nil, models.Conflict("Another task is still queued or running for this virtual machine.")
		}
		return nil, fmt.Errorf("insert task: %w", err)
	}
	job, err := kit.Enqueue(ctx, q, tx, vmActions[a].job(jobargs.VMTask{VMID: vm.ID, TaskID: t.ID}), vmJobOpts())
	if err != nil {
		return nil, err
	}
	t.RiverJobID = &job.ID
	if err := tx.Model(&Task{}).Where("id = ?", t.ID).Update("river_job_id", job.ID).Error; err != nil {
		return nil, fmt.Errorf("store job id on task %s: %w", t.ID, err)
	}
	return t, nil
}

// act runs a plain action (one without input) on a VM the viewer may see.
func (s *VMs) act(ctx context.Context, actor models.Actor, v models.Viewer, vmID string, a VMAction) (*Task, error) {
	var t *Task
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		vm, err := loadVM(tx, v, vmID)
		if err != nil {
			return err
		}
		t, err = beginActionTx(ctx, tx, s.queue, actor, vm, a, nil, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Start boots a stopped VM (or one in error).
func (s *VMs) Start(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*Task, error) {
	return s.act(ctx, actor, v, vmID, ActionStart)
}

// Shutdown asks the guest to shut down; the job powers the VM off after
// the VM's shutdown timeout.
func (s *VMs) Shutdown(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*Task, error) {
	return s.act(ctx, actor, v, vmID, ActionShutdown)
}

// PowerOff stops the VM at once, as pulling the plug would.
func (s *VMs) PowerOff(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*Task, error) {
	return s.act(ctx, actor, v, vmID, ActionPowerOff)
}

// Reboot restarts the guest.
func (s *VMs) Reboot(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*Task, error) {
	return s.act(ctx, actor, v, vmID, ActionReboot)
}

// Reprovision creates a VM again that the reconciler found missing (or
// whose creation failed), keeping its id, address and MAC.
func (s *VMs) Reprovision(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*Task, error) {
	return s.act(ctx, actor, v, vmID, ActionReprovision)
}

// Delete removes a VM. The member confirms by typing the VM's name. The
// address is released when the job has removed the domain (MarkDeleted).
func (s *VMs) Delete(ctx context.Context, actor models.Actor, v models.Viewer, vmID, confirmName string) (*Task, error) {
	var t *Task
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		vm, err := loadVM(tx, v, vmID)
		if err != nil {
			return err
		}
		if !vm.State.Allows(ActionDelete) {
			return actionConflict(ActionDelete, vm.State)
		}
		if err := checkLocked(vm, ActionDelete); err != nil {
			return err
		}
		if strings.TrimSpace(confirmName) != vm.Name {
			return models.Invalidf("confirm", "Type the name of the virtual machine, %s, to confirm.", vm.Name)
		}
		t, err = beginActionTx(ctx, tx, s.queue, actor, vm, ActionDelete, nil, map[string]any{"name": vm.Name})
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Resize moves a VM to another plan. vCPUs and memory change only while
// the VM is stopped; the disk only grows. The new plan counts against the
// quota and the host's room from this moment on, so that a concurrent
// request cannot take the room the resize needs.
func (s *VMs) Resize(ctx context.Context, actor models.Actor, v models.Viewer, vmID, planID string) (*Task, error) {
	ownerID, err := s.ownerOf(ctx, v, vmID)
	if err != nil {
		return nil, err
	}
	ent, err := s.entitlements.Entitlement(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	var t *Task
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		vm, err := loadVM(tx, v, vmID)
		if err != nil {
			return err
		}
		if !vm.State.Allows(ActionResize) {
			return actionConflict(ActionResize, vm.State)
		}
		var cur, next Plan
		if err := kit.First(tx, &cur, vm.PlanID, "plan"); err != nil {
			return err
		}
		err = kit.First(tx, &next, planID, "plan")
		if _, domain := models.AsError(err); err != nil && !domain {
			return err
		}
		if err != nil || next.RetiredAt != nil {
			return models.Invalid(map[string]string{"plan_id": "Choose one of the plans on offer."})
		}
		switch {
		case next.ID == cur.ID:
			return models.Invalid(map[string]string{"plan_id": "The virtual machine has this plan already."})
		case next.DiskGiB < cur.DiskGiB:
			return models.Invalidf("plan_id", "A disk cannot shrink: choose a plan with at least %d GiB.", cur.DiskGiB)
		case vm.State == VMRunning && (next.VCPUs != cur.VCPUs || next.MemoryMiB != cur.MemoryMiB):
			return models.Conflict("Shut the virtual machine down to change its vCPUs or memory; while it runs, only its disk can grow.")
		}
		if err := checkQuota(tx, vm.OwnerID, vm.ID, next.Size(), ent); err != nil {
			return err
		}
		var img Image
		if err := kit.First(tx, &img, vm.ImageID, "image"); err != nil {
			return err
		}
		if err := checkRoomForResize(tx, vm, img.Pool, next.Size()); err != nil {
			return err
		}
		if s.guard != nil {
			why, err := s.guard.AdmitResize(tx, vm, img.Pool, cur.Size(), next.Size())
			if err != nil {
				return err
			}
			if why.Format != "" {
				return noHost(why)
			}
		}
		if err := tx.Model(&VM{}).Where("id = ?", vm.ID).Update("plan_id", next.ID).Error; err != nil {
			return fmt.Errorf("set plan of vm %s: %w", vm.ID, err)
		}
		t, err = beginActionTx(ctx, tx, s.queue, actor, vm, ActionResize, nil,
			map[string]any{"from_plan": cur.Name, "to_plan": next.Name})
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ownerOf returns the owner of a VM the viewer may see; the quota of an
// admin's action on a member's VM is the member's.
func (s *VMs) ownerOf(ctx context.Context, v models.Viewer, vmID string) (string, error) {
	var owners []string
	if err := s.db.Gorm.WithContext(ctx).Model(&VM{}).Where("id = ?", vmID).Pluck("owner_id", &owners).Error; err != nil {
		return "", fmt.Errorf("load owner of vm %s: %w", vmID, err)
	}
	if len(owners) == 0 || !v.Owns(owners[0]) {
		return "", models.NotFoundError("virtual machine")
	}
	return owners[0], nil
}
