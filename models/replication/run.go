package replication

import (
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/internal/kit"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"
)

// leaseFor is how long a run's lease holds before another worker may take
// the VM over: longer than a run's job timeout (jobs), so a live run has
// always been cancelled first.
const leaseFor = RunTimeout + time.Minute

// fullAfterFailures is how many failed runs in a row make the next one a
// full copy.
const fullAfterFailures = 3

// RunTimeout bounds one run; a full copy of a large disk is the longest.
const RunTimeout = 30 * time.Minute

// Due lists the VMs whose next run is due and that no run holds. Only
// running VMs: a run is a pull-mode backup of the running guest, so a VM
// that is stopped (or provisioning, going, in error) is skipped, keeps its
// last good copy and is taken up again when it runs (its next run is then
// overdue, so at once).
func (r *Replicas) Due(ctx context.Context, limit int) ([]string, error) {
	now := r.now()
	var ids []string
	err := r.db.Gorm.WithContext(ctx).Table("vm_replicas AS r").Joins("JOIN vms v ON v.id = r.vm_id").
		Where("r.next_run_at <= ? AND (r.running_run_id = '' OR r.running_since < ?)", now, now.Add(-leaseFor)).
		Where("r.replica_host_id <> v.host_id").
		Where("NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = r.replica_host_id AND h.fenced_at IS NOT NULL)").
		// A staged copy still to be put into the copy needs the standby
		// only: it is finished also when the VM's host is down, so that a
		// failover finds a good copy. A copy needs a running VM, and a host
		// that answers and is not fenced (otherwise it could only fail, and
		// would mark the copy failed).
		Where(r.db.Gorm.Where("r.apply_run_id <> ''").
			Or(r.db.Gorm.Where("v.state = ?", compute.VMRunning).
				Where("NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = v.host_id AND h.fenced_at IS NOT NULL)").
				Where("NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = v.host_id AND h.reachable = FALSE AND h.refreshed_at IS NOT NULL)"))).
		Order("r.next_run_at, r.vm_id").Limit(limit).Pluck("r.vm_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("find due replications: %w", err)
	}
	return ids, nil
}

// runOpts keeps at most one run per VM queued or running, across portal
// instances (River's unique jobs); the lease in BeginRun is the second line.
func runOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// EnqueueDue enqueues a run for every VM that is due; a VM whose run is
// still queued or running gets no second one. It returns how many it
// asked for (duplicates River skipped included).
func (r *Replicas) EnqueueDue(ctx context.Context) (int, error) {
	ids, err := r.Due(ctx, 500)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	err = r.db.Tx(ctx, func(tx *gorm.DB) error {
		for _, id := range ids {
			if _, err := kit.Enqueue(ctx, r.queue, tx, jobargs.ReplicationRun{VMID: id}, runOpts()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(ids), nil
}

// RunSpec is what one run copies, from where to where.
type RunSpec struct {
	RunID, VMID    string
	Kind           string // full | incremental
	SourceURI      string
	Domain         string
	Disk           string // the guest's disk target, "vda"
	TargetHostID   string
	TargetURI      string
	TargetPool     string
	TargetVolume   string
	FromCheckpoint string // "" for a full copy
	NewCheckpoint  string
	StartedAt      time.Time
	// Staging is the volume the run writes into before the replica (see
	// RecordStaged); "" writes into the replica directly.
	Staging string
	// Apply, if set, says that this "run" is the rest of an earlier one
	// (RunID): its staged copy is complete and must be put into the replica
	// (FinishApply), nothing is to be copied from the source.
	Apply *Staged
}

// StagingVolume is the volume on the replica host that a run writes into
// before the replica.
func StagingVolume(vm *compute.VM) string { return StagingOf(vm.DiskVolume()) }

// StagingOf is the staging volume of the copy named volume.
func StagingOf(volume string) string { return volume + "-staging" }

// Staged is a complete, verified copy in the staging volume: the ranges to
// put into the replica.
type Staged struct {
	Full   bool        `json:"full"` // the replica is made empty first
	Size   uint64      `json:"size"` // the disk's virtual size
	Ranges [][2]uint64 `json:"ranges"`
}

// applySpecTx turns spec into the rest of run applyRunID.
func applySpecTx(tx *gorm.DB, spec *RunSpec, applyRunID string, vm *compute.VM) error {
	var run Run
	if err := kit.First(tx, &run, applyRunID, "replication run"); err != nil {
		return err
	}
	var st Staged
	if err := json.Unmarshal([]byte(run.Staged), &st); err != nil {
		return fmt.Errorf("staged ranges of run %s: %w", run.ID, err)
	}
	spec.Kind, spec.FromCheckpoint, spec.NewCheckpoint, spec.StartedAt = run.Kind, run.FromCheckpoint, run.NewCheckpoint, run.StartedAt
	spec.Staging, spec.Apply = StagingVolume(vm), &st
	if run.ReplicaHostID != spec.TargetHostID {
		return fmt.Errorf("run %s was staged on another host than the replica's", run.ID)
	}
	return nil
}

// interruptedTx records a run whose worker died: it failed, and (staged
// or not) the lease's new holder decides what its copy is worth.
func interruptedTx(tx *gorm.DB, runID string, now time.Time) error {
	if err := tx.Model(&Run{}).Where("id = ? AND finished_at IS NULL", runID).
		Updates(map[string]any{"finished_at": now, "verified": false, "error": interruptedMsg}).Error; err != nil {
		return fmt.Errorf("record interrupted replication run %s: %w", runID, err)
	}
	return nil
}

// ErrNotDue means there is nothing to run now: the VM is not due, another
// run holds it, or it has no replica host.
var ErrNotDue = errors.New("replication not due")

// CheckpointName is the checkpoint a run leaves on the primary: made from
// the run's id only, so a retried attempt of the same run names the same.
func CheckpointName(runID string) string { return checkpointPrefix + runID }

const checkpointPrefix = "allmende-rep-"

// IsCheckpointName reports whether a checkpoint is one of replication's.
func IsCheckpointName(name string) bool { return strings.HasPrefix(name, checkpointPrefix) }

// BeginRun is BeginJobRun for a caller that is not a River job.
func (r *Replicas) BeginRun(ctx context.Context, vmID string) (*RunSpec, error) {
	return r.BeginJobRun(ctx, vmID, 0)
}

// interruptedMsg is the error of a run whose worker died with its portal.
const interruptedMsg = "interrupted: the portal stopped during this copy"

// BeginJobRun takes the VM's lease with a conditional UPDATE (one run per
// VM, whatever the job queue does) and records the run's start. jobID is
// the River job of the caller: a lease held by an earlier attempt of the
// same job is taken over at once, because River starts an attempt only
// after the one before it ended (a portal killed mid-run: its job was
// handed back), so no worker uses that lease any more. The run it held is
// recorded as interrupted; if that run was putting its staged copy into
// the replica, the spec says to finish that first (RunSpec.Apply).
func (r *Replicas) BeginJobRun(ctx context.Context, vmID string, jobID int64) (*RunSpec, error) {
	var spec *RunSpec
	err := r.db.Tx(ctx, func(tx *gorm.DB) error {
		now := r.now()
		var rep Replica
		if err := tx.Where("vm_id = ?", vmID).Limit(1).Find(&rep).Error; err != nil {
			return fmt.Errorf("load replica of vm %s: %w", vmID, err)
		}
		if rep.VMID == "" || rep.NextRunAt.After(now) {
			return ErrNotDue
		}
		var vm compute.VM
		if err := kit.First(tx, &vm, vmID, "virtual machine"); err != nil {
			return err
		}
		applying := rep.ApplyRunID != ""
		if vm.State != compute.VMRunning && !applying {
			return ErrNotDue // stopped since the run was queued: see Due
		}
		if rep.ReplicaHostID == vm.HostID {
			return ErrNotDue
		}
		runID := kit.NewID()
		if rep.ApplyRunID != "" {
			runID = rep.ApplyRunID // the lease is that run's until it is applied
		}
		res := tx.Model(&Replica{}).
			Where("vm_id = ? AND (running_run_id = '' OR running_since < ? OR (running_job_id = ? AND running_job_id <> 0))",
				vmID, now.Add(-leaseFor), jobID).
			Updates(map[string]any{"running_run_id": runID, "running_since": now, "running_job_id": jobID, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("take replication lease of vm %s: %w", vmID, res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotDue
		}
		if rep.RunningRunID != "" && rep.RunningRunID != rep.ApplyRunID {
			if err := interruptedTx(tx, rep.RunningRunID, now); err != nil {
				return err
			}
		}
		var src, dst compute.Host
		if err := kit.First(tx, &src, vm.HostID, "host"); err != nil {
			return err
		}
		if err := kit.First(tx, &dst, rep.ReplicaHostID, "host"); err != nil {
			return err
		}
		if dst.Fenced() || src.Fenced() && !applying {
			return ErrNotDue // a failover holds the VM, or the standby is gone
		}
		pool, err := imagePool(tx, vm.ImageID)
		if err != nil {
			return err
		}
		spec = &RunSpec{RunID: runID, VMID: vmID, Kind: RunFull, SourceURI: src.URI, Domain: vm.DomainName(), Disk: "vda",
			TargetHostID: dst.ID, TargetURI: dst.URI, TargetPool: pool, TargetVolume: vm.DiskVolume(),
			FromCheckpoint: rep.LastGoodCheckpoint, NewCheckpoint: CheckpointName(runID), StartedAt: now}
		if rep.ApplyRunID != "" {
			return applySpecTx(tx, spec, rep.ApplyRunID, &vm)
		}
		// A good copy is protected by staging: the run writes beside it.
		// Without one (the first copy, or one a failed run wrote into)
		// there is nothing to protect, and the run writes into it directly.
		if rep.LastGoodAt != nil && !rep.CopyDirty {
			spec.Staging = StagingVolume(&vm)
		}
		// After fullAfterFailures failures in a row the checkpoint itself may
		// be the trouble (lost in a migration, removed by hand): copy whole.
		if rep.ConsecutiveFailures >= fullAfterFailures {
			spec.FromCheckpoint = ""
		}
		if spec.FromCheckpoint != "" {
			spec.Kind = RunIncremental
		}
		run := Run{ID: runID, VMID: vmID, ReplicaHostID: dst.ID, Kind: spec.Kind, StartedAt: now,
			FromCheckpoint: spec.FromCheckpoint, NewCheckpoint: spec.NewCheckpoint}
		if err := tx.Create(&run).Error; err != nil {
			return fmt.Errorf("insert replication run: %w", err)
		}
		set := map[string]any{"last_run_at": now}
		if rep.LastGoodAt == nil {
			set["state"] = StateSeeding
		}
		return tx.Model(&Replica{}).Where("vm_id = ?", vmID).Updates(set).Error
	})
	if err != nil {
		return nil, err
	}
	return spec, nil
}

// Outcome is what the hypervisor reported for a run.
type Outcome struct {
	BytesSent  int64
	Extents    int64
	Duration   time.Duration
	Checkpoint string
	Verified   bool
	Err        error // in words a member may read
	// NoCheckpoint: the run's base checkpoint is gone from the source
	// (a migration, removed by hand). The run fails, and the next run,
	// due at once, is a full copy.
	NoCheckpoint bool
	// CopyUntouched: the run failed before it wrote anything into the copy
	// (hypervisor.ErrReplicaUntouched), so the last good copy still holds.
	// The zero value is the safe one: a failed run marks the copy dirty.
	CopyUntouched bool
}

// FinishRun records how a run ended. A verified copy becomes the last good
// one, as of the run's start (the checkpoint's moment); anything else
// keeps the last good copy, counts a failure and schedules the next run
// with backoff. It is idempotent: a run already finished stays as it was.
func (r *Replicas) FinishRun(ctx context.Context, runID string, out Outcome) error {
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		now := r.now()
		var run Run
		if err := kit.First(kit.ForUpdate(tx), &run, runID, "replication run"); err != nil {
			return err
		}
		if run.FinishedAt != nil {
			return nil
		}
		var rep Replica
		if err := kit.ForUpdate(tx).Where("vm_id = ?", run.VMID).Limit(1).Find(&rep).Error; err != nil {
			return fmt.Errorf("load replica of vm %s: %w", run.VMID, err)
		}
		msg := ""
		switch {
		case out.Err != nil:
			msg = out.Err.Error()
		case !out.Verified:
			msg = "the copy could not be verified"
		case out.Checkpoint != "" && out.Checkpoint != run.NewCheckpoint:
			msg = fmt.Sprintf("the copy ended at checkpoint %q instead of %q", out.Checkpoint, run.NewCheckpoint)
		case rep.VMID == "" || rep.ReplicaHostID != run.ReplicaHostID:
			msg = "the standby host changed during the copy"
		}
		msg = kit.Truncate(strings.TrimSpace(msg), 2000)
		if err := tx.Model(&Run{}).Where("id = ?", runID).Updates(map[string]any{
			"finished_at": now, "bytes_sent": out.BytesSent, "extents": out.Extents,
			"duration_ms": out.Duration.Milliseconds(), "verified": out.Verified && msg == "", "error": msg,
		}).Error; err != nil {
			return fmt.Errorf("record replication run %s: %w", runID, err)
		}
		if rep.VMID == "" || rep.ReplicaHostID != run.ReplicaHostID {
			return releaseTx(tx, run.VMID, runID)
		}
		interval, err := r.intervalTx(tx, run.VMID, now)
		if err != nil {
			return err
		}
		set := map[string]any{"bytes_last": out.BytesSent, "updated_at": now, "running_run_id": "", "running_since": nil, "running_job_id": 0}
		if msg == "" {
			goodSet(set, &run, interval, now)
		} else if out.NoCheckpoint && out.Err != nil {
			// Not the copy's fault: no backoff, and no base to start from.
			set["state"], set["last_error"], set["last_good_checkpoint"] = StateFailed, msg, ""
			set["next_run_at"] = now
		} else {
			n := rep.ConsecutiveFailures + 1
			set["state"], set["last_error"], set["consecutive_failures"] = StateFailed, msg, n
			if !out.CopyUntouched || out.Err == nil {
				set["copy_dirty"] = true
			}
			set["next_run_at"] = now.Add(backoff(n, interval))
		}
		// Only while this run holds the lease: if it ran out and another
		// run took the VM, this run's history stays recorded and the state
		// is the other run's.
		if err := tx.Model(&Replica{}).Where("vm_id = ? AND running_run_id = ?", run.VMID, runID).Updates(set).Error; err != nil {
			return fmt.Errorf("record replica of vm %s: %w", run.VMID, err)
		}
		return nil
	})
}

// goodSet is what a run that made the copy good sets on its replica.
func goodSet(set map[string]any, run *Run, interval time.Duration, now time.Time) {
	set["state"], set["last_good_at"], set["last_good_checkpoint"] = StateGood, run.StartedAt, run.NewCheckpoint
	set["copy_dirty"], set["apply_run_id"] = false, ""
	set["last_error"], set["consecutive_failures"] = "", 0
	set["next_run_at"] = later(run.StartedAt.Add(interval), now)
}

// ErrLeaseLost means the run no longer holds its VM: another holder (a
// failover, a switchover, a run after the lease ran out) decides now.
var ErrLeaseLost = errors.New("the replication run no longer holds its virtual machine")

// RecordStaged records that a run's copy is complete and verified in the
// staging volume: the commit point of a staged run. From here on the
// replica is being changed (dirty) until FinishApply; a job that finds the
// run still unapplied (this one interrupted) applies it again.
func (r *Replicas) RecordStaged(ctx context.Context, runID string, st Staged, out Outcome) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("staged ranges: %w", err)
	}
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		var rep Replica
		var run Run
		if err := kit.First(kit.ForUpdate(tx), &run, runID, "replication run"); err != nil {
			return err
		}
		if err := kit.ForUpdate(tx).Where("vm_id = ?", run.VMID).Limit(1).Find(&rep).Error; err != nil {
			return fmt.Errorf("load replica of vm %s: %w", run.VMID, err)
		}
		if run.FinishedAt != nil || rep.RunningRunID != runID || rep.ReplicaHostID != run.ReplicaHostID {
			return ErrLeaseLost
		}
		if err := tx.Model(&Run{}).Where("id = ?", runID).Updates(map[string]any{"staged": string(raw),
			"bytes_sent": out.BytesSent, "extents": out.Extents, "duration_ms": out.Duration.Milliseconds()}).Error; err != nil {
			return fmt.Errorf("record staged run %s: %w", runID, err)
		}
		return tx.Model(&Replica{}).Where("vm_id = ?", run.VMID).
			Updates(map[string]any{"apply_run_id": runID, "copy_dirty": true, "updated_at": r.now()}).Error
	})
}

// FinishApply records how putting a staged run into the replica ended.
// Applied, the copy is good as of the run's start; otherwise the apply
// stays pending (the copy dirty), and the next run, after the backoff,
// does it again before anything else.
func (r *Replicas) FinishApply(ctx context.Context, runID string, took time.Duration, applyErr error) error {
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		now := r.now()
		var run Run
		if err := kit.First(kit.ForUpdate(tx), &run, runID, "replication run"); err != nil {
			return err
		}
		var rep Replica
		if err := kit.ForUpdate(tx).Where("vm_id = ?", run.VMID).Limit(1).Find(&rep).Error; err != nil {
			return fmt.Errorf("load replica of vm %s: %w", run.VMID, err)
		}
		if run.FinishedAt != nil || rep.ApplyRunID != runID || rep.RunningRunID != runID {
			return nil // already recorded, or no longer this run's to record
		}
		interval, err := r.intervalTx(tx, run.VMID, now)
		if err != nil {
			return err
		}
		set := map[string]any{"bytes_last": run.BytesSent, "updated_at": now, "running_run_id": "", "running_since": nil, "running_job_id": 0}
		if applyErr == nil {
			if err := tx.Model(&Run{}).Where("id = ?", runID).Updates(map[string]any{"finished_at": now, "verified": true,
				"error": "", "duration_ms": run.DurationMS + took.Milliseconds()}).Error; err != nil {
				return fmt.Errorf("record replication run %s: %w", runID, err)
			}
			goodSet(set, &run, interval, now)
		} else {
			n := rep.ConsecutiveFailures + 1
			set["state"], set["consecutive_failures"] = StateFailed, n
			set["last_error"] = kit.Truncate("putting the staged copy into the replica failed (tried again by the next run): "+applyErr.Error(), 2000)
			set["next_run_at"] = now.Add(backoff(n, interval))
		}
		return tx.Model(&Replica{}).Where("vm_id = ?", run.VMID).Updates(set).Error
	})
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func releaseTx(tx *gorm.DB, vmID, runID string) error {
	return tx.Model(&Replica{}).Where("vm_id = ? AND running_run_id = ?", vmID, runID).
		Updates(map[string]any{"running_run_id": "", "running_since": nil, "running_job_id": 0}).Error
}

// intervalTx is the VM's interval: its plan's, or the rule's.
func (r *Replicas) intervalTx(tx *gorm.DB, vmID string, now time.Time) (time.Duration, error) {
	var secs []struct{ Seconds *int64 }
	if err := tx.Table("vms AS v").Joins("JOIN plans p ON p.id = v.plan_id").Where("v.id = ?", vmID).
		Select("p.replication_interval_seconds AS seconds").Scan(&secs).Error; err != nil {
		return 0, fmt.Errorf("load interval of vm %s: %w", vmID, err)
	}
	def, err := defaultInterval(tx, now)
	if err != nil {
		return 0, err
	}
	if len(secs) == 0 {
		return def, nil
	}
	return intervalOf(secs[0].Seconds, def), nil
}

// LagChange is a VM whose copy started or stopped lagging.
type LagChange struct {
	VMID, VMName string
	Lag          time.Duration
	Interval     time.Duration
	Lagging      bool // true: it started lagging
}

// CheckLag marks the VMs whose copy became older than twice their
// interval, and unmarks those that caught up, with an audit entry each,
// so that the admins' alert has a trail; it returns the changes for the
// log.
func (r *Replicas) CheckLag(ctx context.Context) ([]LagChange, error) {
	all, err := r.Lags(ctx)
	if err != nil {
		return nil, err
	}
	var flagged []string
	if err := r.db.Gorm.WithContext(ctx).Model(&Replica{}).Where("lagging_since IS NOT NULL").Pluck("vm_id", &flagged).Error; err != nil {
		return nil, fmt.Errorf("load lagging replicas: %w", err)
	}
	was := map[string]bool{}
	for _, id := range flagged {
		was[id] = true
	}
	var changes []LagChange
	for _, s := range all {
		if s.Lagging() != was[s.VMID] {
			changes = append(changes, LagChange{VMID: s.VMID, VMName: s.VMName, Lag: s.Lag, Interval: s.Interval, Lagging: s.Lagging()})
		}
	}
	if len(changes) == 0 {
		return nil, nil
	}
	err = r.db.Tx(ctx, func(tx *gorm.DB) error {
		now := r.now()
		actor := models.SystemActor("replication.schedule")
		for _, c := range changes {
			var since any
			action := "replication.recovered"
			if c.Lagging {
				since, action = now, "replication.lagging"
			}
			if err := tx.Model(&Replica{}).Where("vm_id = ?", c.VMID).Update("lagging_since", since).Error; err != nil {
				return fmt.Errorf("mark lag of vm %s: %w", c.VMID, err)
			}
			if err := kit.RecordAudit(tx, actor, action, "vm", c.VMID, map[string]any{
				"lag_seconds": int64(c.Lag.Seconds()), "interval_seconds": int64(c.Interval.Seconds())}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return changes, nil
}
