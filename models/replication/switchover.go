package replication

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/internal/kit"
)

// Switchover (issue 10): a planned move of a running VM to its replica
// host while both hosts answer. The job pauses the VM, makes a final
// incremental copy while it is paused (small, and consistent), stops it on
// the old host and starts it on the replica host the way a failover does
// (a qcow2 overlay over the copy, a new disk generation); the old host
// becomes the VM's replica host (a full copy next). The VM holds the
// replication lease throughout, so no scheduled run touches the copy.

// SwitchoverTask is a switchover that was asked for.
type SwitchoverTask struct {
	VMID, VMName, TaskID, From, To string
	Task                           *compute.Task
}

// SwitchoverRefusal is a VM a drain could not switch over, and why.
type SwitchoverRefusal struct {
	VMID, VMName, Reason string
	ReasonMsg            models.Msg // Reason, for translation where it is shown
}

// Switchover starts the move of a running VM to its replica host: in one
// transaction the VM enters starting, gets a "switchover" task and a
// replication.switchover job, and the audit log has it. 409 when the VM
// has no good copy, is not running, its standby host does not answer, or
// a task or a copy is under way.
func (r *Replicas) Switchover(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*SwitchoverTask, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	var out *SwitchoverTask
	err := r.db.Tx(ctx, func(tx *gorm.DB) error {
		var vm compute.VM
		if err := kit.First(kit.ForUpdate(tx), &vm, vmID, "virtual machine"); err != nil {
			return err
		}
		t, reason, err := r.switchoverTx(ctx, tx, actor, &vm)
		if err != nil {
			return err
		}
		if reason.Format != "" {
			return models.ErrorMsg(http.StatusConflict, reason)
		}
		out = t
		return nil
	})
	return out, err
}

// Drain switches over every running VM of a host, for maintenance, in one
// transaction; VMs that cannot be switched over are listed with the
// reason (stopped VMs are not listed: nothing runs there).
func (r *Replicas) Drain(ctx context.Context, actor models.Actor, v models.Viewer, hostID string) ([]SwitchoverTask, []SwitchoverRefusal, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, nil, err
	}
	var started []SwitchoverTask
	var refused []SwitchoverRefusal
	err := r.db.Tx(ctx, func(tx *gorm.DB) error {
		var h compute.Host
		if err := kit.First(tx, &h, hostID, "host"); err != nil {
			return err
		}
		var vms []compute.VM
		if err := kit.ForUpdate(tx).Where("host_id = ? AND state NOT IN ?", hostID,
			[]compute.VMState{compute.VMDeleted, compute.VMStopped, compute.VMDeleting}).
			Order("name, id").Find(&vms).Error; err != nil {
			return fmt.Errorf("list vms of host %s: %w", h.Name, err)
		}
		for i := range vms {
			t, reason, err := r.switchoverTx(ctx, tx, actor, &vms[i])
			if err != nil {
				return err
			}
			if reason.Format != "" {
				refused = append(refused, SwitchoverRefusal{VMID: vms[i].ID, VMName: vms[i].Name, Reason: reason.String(), ReasonMsg: reason})
				continue
			}
			started = append(started, *t)
		}
		return kit.RecordAudit(tx, actor, "host.drain", "host", h.ID, map[string]any{
			"name": h.Name, "switched_over": len(started), "refused": len(refused)})
	})
	if err != nil {
		return nil, nil, err
	}
	return started, refused, nil
}

// switchoverTx checks one VM (locked by the caller) and, if it can move,
// starts its switchover; otherwise it returns the reason in words and
// writes nothing.
func (r *Replicas) switchoverTx(ctx context.Context, tx *gorm.DB, actor models.Actor, vm *compute.VM) (*SwitchoverTask, models.Msg, error) {
	if vm.State != compute.VMRunning {
		if vm.State.Transitional() {
			return nil, models.Msgf("%s is %s; wait until that has finished.", vm.Name, vm.State), nil
		}
		return nil, models.Msgf("%s is %s: only a running virtual machine is switched over.", vm.Name, vm.State), nil
	}
	var rep Replica
	if err := kit.ForUpdate(tx).Where("vm_id = ?", vm.ID).Limit(1).Find(&rep).Error; err != nil {
		return nil, models.Msg{}, fmt.Errorf("load replica of vm %s: %w", vm.ID, err)
	}
	if rep.VMID == "" || rep.ReplicaHostID == "" || rep.ReplicaHostID == vm.HostID {
		return nil, models.Msgf("%s has no standby host.", vm.Name), nil
	}
	if rep.LastGoodAt == nil || rep.CopyDirty || rep.LastGoodCheckpoint == "" {
		return nil, models.Msgf("%s has no good copy on its standby host yet; wait for a replication run to succeed.", vm.Name), nil
	}
	if rep.RunningRunID != "" && (rep.RunningSince == nil || rep.RunningSince.After(r.now().Add(-leaseFor))) {
		return nil, models.Msgf("A copy of %s is being written; try again when it has ended.", vm.Name), nil
	}
	var from, to compute.Host
	if err := kit.First(tx, &from, vm.HostID, "host"); err != nil {
		return nil, models.Msg{}, err
	}
	if err := kit.First(tx, &to, rep.ReplicaHostID, "host"); err != nil {
		return nil, models.Msg{}, err
	}
	if !from.Reachable || from.Fenced() {
		return nil, models.Msgf("Host %s does not answer: use a failover, not a switchover.", from.Name), nil
	}
	if !to.Reachable || to.Fenced() {
		return nil, models.Msgf("The standby host %s of %s is not answering.", to.Name, vm.Name), nil
	}
	var open int64
	if err := tx.Model(&compute.Task{}).Where("vm_id = ? AND status IN ?", vm.ID,
		[]compute.TaskStatus{compute.TaskQueued, compute.TaskRunning}).Count(&open).Error; err != nil {
		return nil, models.Msg{}, fmt.Errorf("count open tasks of vm %s: %w", vm.ID, err)
	}
	if open > 0 {
		return nil, models.Msgf("%s has a task under way; wait until it has finished.", vm.Name), nil
	}
	pool, err := imagePool(tx, vm.ImageID)
	if err != nil {
		return nil, models.Msg{}, err
	}
	now := r.now()
	res := tx.Model(&compute.VM{}).Where("id = ? AND state = ?", vm.ID, compute.VMRunning).Updates(map[string]any{
		"state": compute.VMStarting, "prior_state": compute.VMRunning, "state_reason": "", "updated_at": now})
	if res.Error != nil {
		return nil, models.Msg{}, fmt.Errorf("move vm %s to starting: %w", vm.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return nil, models.Msgf("%s changed meanwhile; try again.", vm.Name), nil
	}
	task := &compute.Task{ID: kit.NewID(), VMID: vm.ID, OwnerID: vm.OwnerID, Kind: compute.ActionSwitchover,
		Status: compute.TaskQueued, StartedBy: actor.Email, CreatedAt: now}
	if err := tx.Create(task).Error; err != nil {
		return nil, models.Msg{}, fmt.Errorf("insert switchover task of vm %s: %w", vm.ID, err)
	}
	if err := tx.Model(&Replica{}).Where("vm_id = ?", vm.ID).Updates(map[string]any{
		"running_run_id": switchoverLease(task.ID), "running_since": now, "running_job_id": 0, "updated_at": now}).Error; err != nil {
		return nil, models.Msg{}, fmt.Errorf("hold replication of vm %s: %w", vm.ID, err)
	}
	args := jobargs.ReplicationSwitchover{VMTask: jobargs.VMTask{VMID: vm.ID, TaskID: task.ID},
		FromHostID: from.ID, ToHostID: to.ID, FromHostName: from.Name, ToHostName: to.Name, Pool: pool, OldVolume: vm.DiskVolume(), CopyVolume: vm.DiskVolume(),
		NewVolume: compute.DiskVolumeOf(vm.DomainName(), vm.DiskGeneration+1), DiskGeneration: vm.DiskGeneration + 1,
		FromCheckpoint: rep.LastGoodCheckpoint, NewCheckpoint: CheckpointName("sw-" + task.ID)}
	job, err := kit.Enqueue(ctx, r.queue, tx, args, &river.InsertOpts{MaxAttempts: 3})
	if err != nil {
		return nil, models.Msg{}, err
	}
	if err := tx.Model(&compute.Task{}).Where("id = ?", task.ID).Update("river_job_id", job.ID).Error; err != nil {
		return nil, models.Msg{}, fmt.Errorf("store job id on task %s: %w", task.ID, err)
	}
	if err := kit.RecordAudit(tx, actor, "vm.switchover", "vm", vm.ID, map[string]any{
		"task_id": task.ID, "from": from.Name, "to": to.Name, "last_good_at": rep.LastGoodAt}); err != nil {
		return nil, models.Msg{}, err
	}
	return &SwitchoverTask{VMID: vm.ID, VMName: vm.Name, TaskID: task.ID, From: from.Name, To: to.Name, Task: task}, models.Msg{}, nil
}

func switchoverLease(taskID string) string { return "switchover-" + taskID }

// AbortSwitchover records that a switchover gave up before the VM was
// stopped on its host: the VM runs there again (the worker resumed it),
// the lease goes back, and a copy the final run may have half written is
// marked dirty. The caller fails the task.
func (r *Replicas) AbortSwitchover(ctx context.Context, vmID, taskID string, copyTouched bool) error {
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		now := r.now()
		if err := tx.Model(&compute.VM{}).Where("id = ? AND state = ?", vmID, compute.VMStarting).Updates(map[string]any{
			"state": compute.VMRunning, "prior_state": "", "updated_at": now}).Error; err != nil {
			return fmt.Errorf("vm %s back to running: %w", vmID, err)
		}
		set := map[string]any{"running_run_id": "", "running_since": nil, "running_job_id": 0, "updated_at": now}
		if copyTouched {
			set["copy_dirty"], set["state"], set["next_run_at"] = true, StateFailed, now
		}
		if err := tx.Model(&Replica{}).Where("vm_id = ? AND running_run_id = ?", vmID, switchoverLease(taskID)).
			Updates(set).Error; err != nil {
			return fmt.Errorf("release replica of vm %s: %w", vmID, err)
		}
		return kit.RecordAudit(tx, models.SystemActor("replication.switchover"), "vm.switchover_aborted", "vm", vmID,
			map[string]any{"task_id": taskID, "copy_touched": copyTouched})
	})
}

// SwitchoverDone reports whether the VM runs on the target host already
// (an earlier attempt recorded the move).
func (r *Replicas) SwitchoverDone(ctx context.Context, a jobargs.ReplicationSwitchover) (bool, error) {
	var vm compute.VM
	if err := kit.First(r.db.Gorm.WithContext(ctx), &vm, a.VMID, "virtual machine"); err != nil {
		return false, err
	}
	return vm.HostID == a.ToHostID && vm.DiskGeneration == a.DiskGeneration, nil
}

// CompleteSwitchover records that the VM runs on its new host: host and
// disk generation change, the old host becomes its replica host with no
// copy yet (the next run is a full one, due now), and the audit log has
// the downtime. It is idempotent.
func (r *Replicas) CompleteSwitchover(ctx context.Context, a jobargs.ReplicationSwitchover, downtime time.Duration, mode string) error {
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		now := r.now()
		res := tx.Model(&compute.VM{}).Where("id = ? AND host_id = ?", a.VMID, a.FromHostID).Updates(map[string]any{
			"host_id": a.ToHostID, "disk_generation": a.DiskGeneration, "state": compute.VMRunning, "prior_state": "",
			"state_reason": "", "stopped_unexpectedly_at": nil, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("move vm %s: %w", a.VMID, res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // recorded already
		}
		if err := tx.Model(&Replica{}).Where("vm_id = ?", a.VMID).Updates(map[string]any{
			"replica_host_id": a.FromHostID, "state": StateNone, "last_good_at": nil, "last_good_checkpoint": "",
			"last_error": "", "consecutive_failures": 0, "copy_dirty": false, "apply_run_id": "", "running_run_id": "", "running_since": nil, "running_job_id": 0,
			"lagging_since": nil, "next_run_at": now, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("point replica of vm %s at host %s: %w", a.VMID, a.FromHostID, err)
		}
		return kit.RecordAudit(tx, models.SystemActor("replication.switchover"), "vm.switched_over", "vm", a.VMID, map[string]any{
			"task_id": a.TaskID, "from_host_id": a.FromHostID, "to_host_id": a.ToHostID, "disk": a.NewVolume,
			"downtime_ms": downtime.Milliseconds(), "mode": mode})
	})
}
