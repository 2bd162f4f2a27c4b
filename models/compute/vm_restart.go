package compute

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/internal/kit"
)

// Automatic restart. The reconciler (RecordDrift) may find a VM that its
// member left running stopped on its host, with no task open for it: the
// host crashed, or QEMU was killed. Unless the member turned the VM's
// AutoRestart off, the VM is started again through the ordinary start job,
// under a task of kind "restart" whose log begins with RestartedLine.
//
// A guest that dies at once must not keep its host busy starting it: each
// restart after the first waits longer (autoRestartPause, then twice that,
// …) after the one before, and a window of an hour holds at most
// MaxAutoRestarts of them. When the limit is reached, or the member turned
// the setting off, the VM becomes stopped, with the reason in words, and
// its member starts it when they want. Meanwhile members see what the VM
// really is (ObservedState, StateReason) instead of "running".
//
// Times here are the service's clock, so tests move through the back-off
// without waiting. A domain that is gone is not recreated here: it stays
// missing (markMissingTx) until its member provisions it again.
const (
	MaxAutoRestarts   = 3
	autoRestartWindow = time.Hour
	autoRestartPause  = time.Minute
)

// RestartedLine is the first log line of an automatic restart's task.
const RestartedLine = "restarted after an unexpected stop"

// autoRestartBackoff is how long after the last automatic restart the next
// may run, when done restarts have run in the window.
func autoRestartBackoff(done int) time.Duration {
	if done <= 0 {
		return 0
	}
	return autoRestartPause << (done - 1)
}

// Reasons members read on a VM that stopped unexpectedly.
const (
	reasonAutoRestartOff = "stopped unexpectedly — automatic restart off"
)

func reasonRestarting(attempt int) string {
	return fmt.Sprintf("stopped unexpectedly — restarting (attempt %d of %d)", attempt, MaxAutoRestarts)
}

func reasonRestartDue(attempt int, due time.Time) string {
	return fmt.Sprintf("stopped unexpectedly — restarting at %s UTC (attempt %d of %d)", due.UTC().Format("15:04"), attempt, MaxAutoRestarts)
}

func reasonGaveUp() string {
	return fmt.Sprintf("stopped unexpectedly — automatic restart gave up after %d tries in an hour", MaxAutoRestarts)
}

// StoppedUnexpectedly reports whether the VM is known to have stopped
// against its member's wish and has not run since.
func (vm *VM) StoppedUnexpectedly() bool {
	if vm.StoppedUnexpectedlyAt == nil {
		return false
	}
	switch vm.State {
	case VMRunning, VMStarting, VMStopped:
		return true
	}
	return false
}

// ObservedState is what the VM really is, where the host disagrees with
// the state its member left it in: stopped, until it runs again.
func (vm *VM) ObservedState() VMState {
	if vm.StoppedUnexpectedly() {
		return VMStopped
	}
	return vm.State
}

// unexpectedStopTx handles, in RecordDrift's transaction, a running VM
// whose domain the reconciler found shut off, and returns the VM's state
// afterwards: starting (a restart is under way), stopped (off, or the limit
// is reached) or still running (a task is open, or the back-off not over).
func (s *VMs) unexpectedStopTx(ctx context.Context, tx *gorm.DB, vm *VM) (VMState, error) {
	var open int64
	if err := tx.Model(&Task{}).Where("vm_id = ? AND status IN ?", vm.ID, []TaskStatus{TaskQueued, TaskRunning}).
		Count(&open).Error; err != nil {
		return "", fmt.Errorf("count open tasks of vm %s: %w", vm.ID, err)
	}
	if open > 0 {
		return VMRunning, nil // the job at work will find out
	}
	now := s.clock.Now().UTC()
	set := map[string]any{"updated_at": kit.UTCNow()}
	first := vm.StoppedUnexpectedlyAt == nil
	if first {
		set["stopped_unexpectedly_at"] = now
		if err := kit.RecordAudit(tx, reconcileActor, "vm.stopped_unexpectedly", "vm", vm.ID,
			map[string]any{"auto_restart": vm.AutoRestart, "host_id": vm.HostID}); err != nil {
			return "", err
		}
	}
	done, window := vm.AutoRestarts, vm.AutoRestartWindowAt
	if window == nil || !now.Before(window.Add(autoRestartWindow)) {
		done, window = 0, nil
	}
	switch {
	case vm.LockedAt != nil:
		// A sanction holds it: the sanction's own job decides what runs.
		set["state"], set["state_reason"] = VMStopped, "suspended: "+vm.LockReason
		return VMStopped, updateRunningTx(tx, vm, set)
	case !vm.AutoRestart:
		set["state"], set["state_reason"] = VMStopped, reasonAutoRestartOff
		return VMStopped, updateRunningTx(tx, vm, set)
	case done >= MaxAutoRestarts:
		set["state"], set["state_reason"] = VMStopped, reasonGaveUp()
		if err := updateRunningTx(tx, vm, set); err != nil {
			return "", err
		}
		return VMStopped, kit.RecordAudit(tx, reconcileActor, "vm.auto_restart_gave_up", "vm", vm.ID,
			map[string]any{"restarts": done, "since": window})
	case done > 0 && vm.LastAutoRestartAt != nil && now.Before(vm.LastAutoRestartAt.Add(autoRestartBackoff(done))):
		set["state_reason"] = reasonRestartDue(done+1, vm.LastAutoRestartAt.Add(autoRestartBackoff(done)))
		return VMRunning, updateRunningTx(tx, vm, set)
	}
	attempt := done + 1
	if window == nil {
		window = &now
	}
	set["auto_restarts"], set["auto_restart_window_at"], set["last_auto_restart_at"] = attempt, *window, now
	if err := updateRunningTx(tx, vm, set); err != nil {
		return "", err
	}
	t, err := beginActionTx(ctx, tx, s.queue, reconcileActor, vm, ActionRestart, nil,
		map[string]any{"attempt": attempt, "of": MaxAutoRestarts})
	if err != nil {
		return "", err
	}
	if err := addTaskLine(tx, t.ID, RestartedLine); err != nil {
		return "", err
	}
	// beginActionTx cleared the reason; the member reads this one until
	// the start job settles the VM.
	if err := tx.Model(&VM{}).Where("id = ?", vm.ID).Update("state_reason", reasonRestarting(attempt)).Error; err != nil {
		return "", fmt.Errorf("set reason of vm %s: %w", vm.ID, err)
	}
	return VMStarting, nil
}

var reconcileActor = models.SystemActor("reconcile")

// ReasonGuestShutdown is what members read on a VM whose guest powered
// itself off: that was done inside the VM, so it is not restarted.
const ReasonGuestShutdown = "shut down from inside the guest"

// guestShutdownTx records, in RecordDrift's transaction, that a running
// VM's guest powered itself off (poweroff inside the VM): the VM becomes
// stopped as if its member had stopped it in the portal.
func guestShutdownTx(tx *gorm.DB, vm *VM) error {
	set := map[string]any{"state": VMStopped, "state_reason": ReasonGuestShutdown,
		"stopped_unexpectedly_at": nil, "updated_at": kit.UTCNow()}
	if err := updateRunningTx(tx, vm, set); err != nil {
		return err
	}
	return kit.RecordAudit(tx, reconcileActor, "vm.guest_shutdown", "vm", vm.ID, map[string]any{"host_id": vm.HostID})
}

// updateRunningTx writes set on a VM that is still running.
func updateRunningTx(tx *gorm.DB, vm *VM, set map[string]any) error {
	res := tx.Model(&VM{}).Where("id = ? AND state = ?", vm.ID, VMRunning).Updates(set)
	if res.Error != nil {
		return fmt.Errorf("record unexpected stop of vm %s: %w", vm.ID, res.Error)
	}
	return nil
}

// SetAutoRestart turns the VM's automatic restart after an unexpected stop
// on or off.
func (s *VMs) SetAutoRestart(ctx context.Context, actor models.Actor, v models.Viewer, vmID string, on bool) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		vm, err := loadVM(tx, v, vmID)
		if err != nil {
			return err
		}
		if vm.State == VMDeleted {
			return models.Conflict("This virtual machine has been deleted.")
		}
		if err := tx.Model(&VM{}).Where("id = ?", vmID).
			Updates(map[string]any{"auto_restart": on, "updated_at": kit.UTCNow()}).Error; err != nil {
			return fmt.Errorf("set automatic restart of vm %s: %w", vmID, err)
		}
		return kit.RecordAudit(tx, actor, "vm.auto_restart", "vm", vmID, map[string]any{"on": on})
	})
}
