package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models/compute"
	"allmende/models/replication"
)

// Pauser pauses and resumes a running domain; *hypervisor.Manager.
type Pauser interface {
	SuspendDomain(ctx context.Context, uri, name string) error
	ResumeDomain(ctx context.Context, uri, name string) error
}

// LiveMigrator moves a running guest between hosts; *hypervisor.Manager.
type LiveMigrator interface {
	SnapshotTop(ctx context.Context, uri, pool, domain, disk, name string) error
	TargetXML(ctx context.Context, srcURI, dstURI, pool, domain, disk, diskVolume string) (string, error)
	Migrate(ctx context.Context, srcURI, dstURI, name string, opts hypervisor.MigrateOptions) (hypervisor.MigrationStats, error)
}

// switchoverTimeout bounds one attempt: the final copy is incremental and
// small, but it runs while the guest is paused. Below the replication
// lease (models/replication), which the switchover holds.
const switchoverTimeout = 10 * time.Minute

// SwitchoverWorker moves a running VM to its replica host, planned
// (models/replication, switchover.go): pause it, copy what changed since
// the last good copy while it is paused, stop it on the old host, start it
// on the replica host from the copy the way a failover does, record the
// move and remove the old host's domain and disk. Until the VM is stopped
// on the old host every failure resumes it there and ends the task; after
// that the steps are idempotent and retried.
type SwitchoverWorker struct {
	vmJob[jobargs.ReplicationSwitchover]
	reps       *replication.Replicas
	replicator Replicator
	pause      Pauser
	live       LiveMigrator // nil: the cold path only
}

func (w *SwitchoverWorker) Timeout(*river.Job[jobargs.ReplicationSwitchover]) time.Duration {
	return switchoverTimeout
}

func (w *SwitchoverWorker) Work(ctx context.Context, job *river.Job[jobargs.ReplicationSwitchover]) error {
	return w.run(ctx, job.JobRow, job.Args.VMTask, func(ctx context.Context, r *vmRun) error {
		return w.switchover(ctx, r, job.Args)
	})
}

func (w *SwitchoverWorker) switchover(ctx context.Context, r *vmRun, a jobargs.ReplicationSwitchover) error {
	if w.replicator == nil || w.pause == nil {
		return permanent("switchover is not available: no disk copy in this build")
	}
	if done, err := w.reps.SwitchoverDone(ctx, a); err != nil {
		return err
	} else if done {
		return r.succeed(ctx)
	}
	src := r.v
	if src.HostID != a.FromHostID {
		return permanent("the virtual machine moved meanwhile; not switched over")
	}
	dst, err := w.vms.ForJobOn(ctx, a.VMID, a.ToHostID)
	if err != nil {
		return err
	}
	st, err := w.hv.DomainState(ctx, src.HostURI, src.DomainName)
	if err != nil {
		return err
	}
	var paused time.Time
	if active(st) {
		if err := r.begin(ctx, fmt.Sprintf("switching over from %s to %s: pausing on %s", a.FromHostName, a.ToHostName, a.FromHostName)); err != nil {
			return err
		}
		paused = time.Now()
		if err := w.pause.SuspendDomain(ctx, src.HostURI, src.DomainName); err != nil {
			return w.abort(ctx, r, a, err, false)
		}
		if err := r.begin(ctx, fmt.Sprintf("final copy to %s while paused (changes since the last good copy)", a.ToHostName)); err != nil {
			return w.abort(ctx, r, a, err, false)
		}
		res, err := w.replicator.Replicate(ctx, hypervisor.ReplicateRequest{
			SourceURI: src.HostURI, Domain: src.DomainName, Disk: "vda",
			Target:         hypervisor.ReplicaTarget{URI: dst.HostURI, Pool: a.Pool, Volume: a.CopyVolume},
			FromCheckpoint: a.FromCheckpoint, NewCheckpoint: a.NewCheckpoint,
		})
		if err != nil {
			return w.abort(ctx, r, a, readableCopyError(err), !errors.Is(err, hypervisor.ErrReplicaUntouched))
		}
		if !res.Verified {
			return w.abort(ctx, r, a, errors.New("the final copy could not be verified"), true)
		}
		if err := r.log(ctx, fmt.Sprintf("final copy: %d bytes in %d extents, %d ms, verified",
			res.BytesSent, res.Extents, res.Duration.Milliseconds())); err != nil {
			return w.abort(ctx, r, a, err, false)
		}
		if w.live != nil {
			moved, again, downtime, err := w.tryLive(ctx, r, a, dst, paused)
			if err != nil {
				return w.abort(ctx, r, a, err, false)
			}
			if moved {
				return w.finish(ctx, r, a, dst, downtime)
			}
			if again {
				// The guest ran on after the final copy: once more, paused.
				if err := r.begin(ctx, "pausing on "+a.FromHostName+" again"); err != nil {
					return w.abort(ctx, r, a, err, false)
				}
				paused = time.Now()
				if err := w.pause.SuspendDomain(ctx, src.HostURI, src.DomainName); err != nil {
					return w.abort(ctx, r, a, err, false)
				}
				if err := r.begin(ctx, "final copy again while paused"); err != nil {
					return w.abort(ctx, r, a, err, false)
				}
				res, err := w.replicator.Replicate(ctx, hypervisor.ReplicateRequest{
					SourceURI: src.HostURI, Domain: src.DomainName, Disk: "vda",
					Target:         hypervisor.ReplicaTarget{URI: dst.HostURI, Pool: a.Pool, Volume: a.CopyVolume},
					FromCheckpoint: a.NewCheckpoint, NewCheckpoint: a.NewCheckpoint + "-2",
				})
				if err != nil {
					return w.abort(ctx, r, a, readableCopyError(err), !errors.Is(err, hypervisor.ErrReplicaUntouched))
				}
				if !res.Verified {
					return w.abort(ctx, r, a, errors.New("the final copy could not be verified"), true)
				}
				if err := r.log(ctx, fmt.Sprintf("final copy: %d bytes, %d ms, verified", res.BytesSent, res.Duration.Milliseconds())); err != nil {
					return w.abort(ctx, r, a, err, false)
				}
				// The failed migration may have written into the overlay there.
				if err := w.hv.DeleteVolume(ctx, dst.HostURI, a.Pool, a.NewVolume); err != nil {
					return w.abort(ctx, r, a, err, false)
				}
			}
		}
		if err := r.begin(ctx, "stopping on "+a.FromHostName); err != nil {
			return w.abort(ctx, r, a, err, false)
		}
		if err := w.hv.DestroyDomain(ctx, src.HostURI, src.DomainName); err != nil {
			return w.abort(ctx, r, a, err, false)
		}
	} else if err := r.log(ctx, fmt.Sprintf("already stopped on %s by an earlier attempt", a.FromHostName)); err != nil {
		return err
	}
	// From here on the copy on the new host is the VM's disk: go forward.
	dst.DiskVolume, dst.DiskPool = a.NewVolume, a.Pool
	on := &vmRun{vmWorkers: r.vmWorkers, job: r.job, args: r.args, v: dst}
	if err := on.startFromCopy(ctx, a.ToHostName, a.Pool, a.CopyVolume, "from the final copy", true); err != nil {
		return err
	}
	var downtime time.Duration
	if !paused.IsZero() {
		downtime = time.Since(paused)
	}
	line := fmt.Sprintf("running on %s; downtime %d ms (paused, final copy, stopped on %s, started on %s)",
		a.ToHostName, downtime.Milliseconds(), a.FromHostName, a.ToHostName)
	if paused.IsZero() {
		line = fmt.Sprintf("running on %s; downtime unknown (an earlier attempt stopped it)", a.ToHostName)
	}
	if err := on.log(ctx, line); err != nil {
		return err
	}
	return w.record(ctx, on, a, src.HostURI, src.DomainName, src.SeedVolume, downtime, "cold")
}

// finish records a live move.
func (w *SwitchoverWorker) finish(ctx context.Context, r *vmRun, a jobargs.ReplicationSwitchover, dst *compute.VMJobView, downtime time.Duration) error {
	on := &vmRun{vmWorkers: r.vmWorkers, job: r.job, args: r.args, v: dst}
	return w.record(ctx, on, a, r.v.HostURI, r.v.DomainName, r.v.SeedVolume, downtime, "live")
}

// topVolume is the overlay a live switchover puts on the disk on the old
// host; only what the guest writes into it travels with the migration.
func topVolume(a jobargs.ReplicationSwitchover) string {
	return fmt.Sprintf("%s-switch-g%d", a.OldVolume, a.DiskGeneration)
}

// tryLive moves the paused guest, whose copy on the new host is up to
// date, by live migration: a new overlay on its disk (the disk below is
// then exactly the copy), the guest resumed, an overlay over the copy on
// the new host, and a migration that copies only the overlay. moved: the
// guest runs on the new host. Otherwise the reason is in the task log and
// the cold path follows; again: the guest ran on meanwhile, so the copy
// must be brought up to date once more. The downtime is the pause for the
// final copy plus the migration's own.
func (w *SwitchoverWorker) tryLive(ctx context.Context, r *vmRun, a jobargs.ReplicationSwitchover, dst *compute.VMJobView,
	paused time.Time) (moved, again bool, downtime time.Duration, err error) {
	src := r.v
	fallback := func(what string, err error) (bool, bool, time.Duration, error) {
		msg := err.Error()
		if m, ok := hypervisor.Message(err); ok {
			msg = m
		}
		lerr := r.log(ctx, fmt.Sprintf("live migration not possible (%s: %s); falling back to shut down → final copy → start on %s",
			what, msg, a.ToHostName))
		return false, again, 0, lerr
	}
	if err := r.begin(ctx, "overlay on the disk on "+a.FromHostName+" for a live migration"); err != nil {
		return false, false, 0, err
	}
	top := topVolume(a)
	if err := w.live.SnapshotTop(ctx, src.HostURI, a.Pool, src.DomainName, "vda", top); err != nil {
		return fallback("overlay on the source", err) // still paused: the copy is current
	}
	if err := w.pause.ResumeDomain(ctx, src.HostURI, src.DomainName); err != nil {
		return false, false, 0, err
	}
	pausedFor := time.Since(paused)
	again = true
	if err := r.log(ctx, fmt.Sprintf("resumed on %s after %d ms paused; its writes go to %s now", a.FromHostName, pausedFor.Milliseconds(), top)); err != nil {
		return false, again, 0, err
	}
	if err := r.begin(ctx, fmt.Sprintf("creating disk %s on %s over the copy %s", a.NewVolume, a.ToHostName, a.CopyVolume)); err != nil {
		return false, again, 0, err
	}
	if _, err := w.hv.CreateDiskVolume(ctx, dst.HostURI, a.Pool, a.NewVolume, uint64(dst.DiskGiB)<<30,
		&hypervisor.VolumeRef{Pool: a.Pool, Name: a.CopyVolume}); err != nil {
		return fallback("disk on the target", err)
	}
	on := &vmRun{vmWorkers: r.vmWorkers, job: r.job, args: r.args, v: dst}
	iso, err := hypervisor.BuildSeedISO(on.seed())
	if err != nil {
		return fallback("seed", err)
	}
	if err := w.hv.UploadSeed(ctx, dst.HostURI, a.Pool, dst.SeedVolume, iso); err != nil {
		return fallback("seed on the target", err)
	}
	x, err := w.live.TargetXML(ctx, src.HostURI, dst.HostURI, a.Pool, src.DomainName, "vda", a.NewVolume)
	if err != nil {
		return fallback("definition for the target", err)
	}
	if err := r.begin(ctx, fmt.Sprintf("live-migrating to %s (only the writes since the final copy travel)", a.ToHostName)); err != nil {
		return false, again, 0, err
	}
	st, err := w.live.Migrate(ctx, src.HostURI, dst.HostURI, src.DomainName,
		hypervisor.MigrateOptions{Incremental: true, Disks: []string{"vda"}, DestXML: x})
	if err != nil {
		if ctx.Err() != nil {
			return false, again, 0, err
		}
		return fallback("migration", err)
	}
	downtime = pausedFor + st.Downtime
	if err := r.log(ctx, fmt.Sprintf("running on %s, live: downtime %d ms (%d ms paused for the final copy + %d ms switch); "+
		"migration moved %d bytes of disk and %d of memory in %d ms; the guest kept running", a.ToHostName, downtime.Milliseconds(),
		pausedFor.Milliseconds(), st.Downtime.Milliseconds(), st.DiskBytes, st.Bytes-min(st.DiskBytes, st.Bytes), st.Job.Milliseconds())); err != nil {
		return true, again, downtime, err
	}
	return true, again, downtime, nil
}

// record records the move, removes what is left on the old host and ends
// the task.
func (w *SwitchoverWorker) record(ctx context.Context, on *vmRun, a jobargs.ReplicationSwitchover, uri, domain, seed string,
	downtime time.Duration, mode string) error {
	on.step = "recording the move"
	if err := w.reps.CompleteSwitchover(ctx, a, downtime, mode); err != nil {
		return err
	}
	w.removeOld(ctx, on, uri, domain, a, seed)
	// The copy is the VM's disk now; the volume runs staged into beside it
	// is of no use.
	if err := w.hv.DeleteVolume(ctx, on.v.HostURI, a.Pool, replication.StagingOf(a.CopyVolume)); err != nil {
		w.logger.Warn("switchover: old staging volume not removed", "vm", a.VMID, "host", a.ToHostName, "err", err)
	}
	if err := on.log(ctx, fmt.Sprintf("%s is now the standby host; a full copy to it follows", a.FromHostName)); err != nil {
		return err
	}
	return on.succeed(ctx)
}

// removeOld removes the VM's domain, disk and seed from its old host; a
// failure is logged to the task only (the disk is no copy anyone uses).
func (w *SwitchoverWorker) removeOld(ctx context.Context, on *vmRun, uri, domain string, a jobargs.ReplicationSwitchover, seed string) {
	err := w.hv.UndefineDomain(ctx, uri, domain)
	for _, vol := range []string{topVolume(a), a.OldVolume, seed} {
		if err == nil {
			err = w.hv.DeleteVolume(ctx, uri, a.Pool, vol)
		}
	}
	if err != nil {
		w.logger.Warn("switchover: old domain or disk not removed", "vm", a.VMID, "host", a.FromHostName, "err", err)
		_ = on.log(ctx, fmt.Sprintf("could not remove the old domain and disk on %s: %v", a.FromHostName, readable("", err)))
		return
	}
	_ = on.log(ctx, fmt.Sprintf("removed the old domain and disk %s on %s", a.OldVolume, a.FromHostName))
}

// abort ends a switchover that failed before the VM was stopped on its
// host: the VM runs there again, the replication lease goes back (the copy
// marked dirty if the final copy may have written into it), and the task
// fails with the reason.
func (w *SwitchoverWorker) abort(ctx context.Context, r *vmRun, a jobargs.ReplicationSwitchover, cause error, copyTouched bool) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	step := r.step
	var rerr error
	if rerr = w.pause.ResumeDomain(fctx, r.v.HostURI, r.v.DomainName); rerr != nil {
		w.logger.Error("switchover: could not resume the vm on its host", "vm", a.VMID, "err", rerr)
	}
	if err := w.reps.AbortSwitchover(fctx, a.VMID, a.TaskID, copyTouched); err != nil {
		return err // River tries again; the attempt resumes first
	}
	msg := fmt.Sprintf("switchover aborted at %q: %v; the virtual machine runs on %s again", step, readable("", cause), a.FromHostName)
	if rerr != nil {
		msg = fmt.Sprintf("switchover aborted at %q: %v; resuming on %s failed too: %v", step, readable("", cause), a.FromHostName, rerr)
	}
	if err := r.tasks.Fail(fctx, a.TaskID, errors.New(msg)); err != nil {
		return err
	}
	r.step = "" // the message has it
	return permanentError{errors.New(msg)}
}
