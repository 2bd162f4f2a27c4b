package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"allmende/hypervisor"
	"allmende/hypervisor/nbd"
	"allmende/jobs/jobargs"
	"allmende/models/replication"
)

// scheduleEvery is how often the schedule looks for due runs: a run starts
// at most that late. At 10 s, 10 VMs on the minimum 30 s interval lagged up
// to 61 s (e2e/rpobench), past the 60 s the issue allows.
const scheduleEvery = 5 * time.Second

// Replicator copies a VM's disk to its replica host and tidies up after
// it: *hypervisor.Manager (wired in web); tests pass a fake.
type Replicator interface {
	Replicate(ctx context.Context, req hypervisor.ReplicateRequest) (hypervisor.ReplicateResult, error)
	ListCheckpoints(ctx context.Context, uri, domain string) ([]hypervisor.Checkpoint, error)
	DeleteCheckpoint(ctx context.Context, uri, domain, name string) error
	DeleteVolume(ctx context.Context, uri, pool, name string) error
	ApplyStaged(ctx context.Context, req hypervisor.ApplyRequest) (hypervisor.ApplyResult, error)
}

// ReplicationScheduleWorker is the periodic job: replica hosts for VMs
// without one, runs for the VMs that are due, and the lag alert.
type ReplicationScheduleWorker struct {
	river.WorkerDefaults[jobargs.ReplicationSchedule]
	reps       *replication.Replicas
	replicator Replicator
	logger     *slog.Logger
}

// NewReplicationScheduleWorker wires the schedule; without a replicator
// it assigns and watches but enqueues no runs.
func NewReplicationScheduleWorker(reps *replication.Replicas, replicator Replicator, log *slog.Logger) *ReplicationScheduleWorker {
	return &ReplicationScheduleWorker{reps: reps, replicator: replicator, logger: log}
}

func (w *ReplicationScheduleWorker) Timeout(*river.Job[jobargs.ReplicationSchedule]) time.Duration {
	return 30 * time.Second
}

func (w *ReplicationScheduleWorker) Work(ctx context.Context, _ *river.Job[jobargs.ReplicationSchedule]) error {
	if n, err := w.reps.AssignMissing(ctx); err != nil {
		return err
	} else if n > 0 {
		w.logger.Info("replication: replica hosts assigned", "vms", n)
	}
	if w.replicator != nil {
		if _, err := w.reps.EnqueueDue(ctx); err != nil {
			return err
		}
		if err := w.removeDeleted(ctx); err != nil {
			return err
		}
	}
	changes, err := w.reps.CheckLag(ctx)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if c.Lagging {
			w.logger.Warn("replication lagging: the copy is older than twice the interval", "vm", c.VMID, "name", c.VMName,
				"lag", c.Lag.Round(time.Second), "interval", c.Interval)
		} else {
			w.logger.Info("replication caught up", "vm", c.VMID, "name", c.VMName, "lag", c.Lag.Round(time.Second))
		}
	}
	return nil
}

// ReplicationRunWorker copies one VM's disk. The domain's lease makes it
// the only run of the VM; its outcome (success or failure, with the next
// run's time) is recorded in the domain, so River retries only when the
// record itself failed.
type ReplicationRunWorker struct {
	river.WorkerDefaults[jobargs.ReplicationRun]
	reps       *replication.Replicas
	replicator Replicator
	logger     *slog.Logger
}

// NewReplicationRunWorker wires a run worker.
func NewReplicationRunWorker(reps *replication.Replicas, replicator Replicator, log *slog.Logger) *ReplicationRunWorker {
	return &ReplicationRunWorker{reps: reps, replicator: replicator, logger: log}
}

func (w *ReplicationRunWorker) Timeout(*river.Job[jobargs.ReplicationRun]) time.Duration {
	return replication.RunTimeout
}

func (w *ReplicationRunWorker) Work(ctx context.Context, job *river.Job[jobargs.ReplicationRun]) error {
	if w.replicator == nil {
		return river.JobCancel(errors.New("replication is not available: no disk copy in this build"))
	}
	// At most three rounds: the rest of an interrupted run (its apply),
	// a run, and the full copy after a run whose base checkpoint was gone.
	for range 3 {
		spec, err := w.reps.BeginJobRun(ctx, job.Args.VMID, job.ID)
		if errors.Is(err, replication.ErrNotDue) {
			return nil // another run holds the VM, or it is no longer due
		}
		if err != nil {
			return fmt.Errorf("begin replication of vm %s: %w", job.Args.VMID, err)
		}
		again, err := w.run(ctx, spec)
		if err != nil || !again {
			return err
		}
	}
	return nil
}

// run does what spec says: the rest of an earlier run, or a copy. again
// says the VM is due once more at once (an apply done, or a full copy
// after a lost checkpoint).
func (w *ReplicationRunWorker) run(ctx context.Context, spec *replication.RunSpec) (again bool, err error) {
	if spec.Apply != nil {
		w.logger.Info("replication: putting the staged copy of an interrupted run into the replica", "vm", spec.VMID, "run", spec.RunID)
		return true, w.apply(ctx, spec, *spec.Apply)
	}
	if err := w.copy(ctx, spec); err != nil {
		return false, err
	}
	return spec.FromCheckpoint != "", nil
}

// apply puts a staged copy into the replica and records the outcome; the
// run is good only after this.
func (w *ReplicationRunWorker) apply(ctx context.Context, spec *replication.RunSpec, st replication.Staged) error {
	ranges := make([]nbd.Range, len(st.Ranges))
	for i, r := range st.Ranges {
		ranges[i] = nbd.Range{Offset: r[0], Length: r[1]}
	}
	res, aerr := w.replicator.ApplyStaged(ctx, hypervisor.ApplyRequest{URI: spec.TargetURI, Pool: spec.TargetPool,
		Staging: spec.Staging, Volume: spec.TargetVolume, Size: st.Size, Ranges: ranges, Recreate: st.Full})
	if aerr != nil {
		w.logger.Warn("replication: putting the staged copy into the replica failed", "vm", spec.VMID, "run", spec.RunID, "err", aerr)
		aerr = readableCopyError(aerr)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := w.reps.FinishApply(fctx, spec.RunID, res.Duration, aerr); err != nil {
		return fmt.Errorf("record replication run %s: %w", spec.RunID, err)
	}
	if aerr == nil {
		w.pruneCheckpoints(fctx, spec)
	}
	return nil
}

// copy runs one copy and records it. It returns nil with
// spec.FromCheckpoint still set only when that checkpoint was gone (the
// caller then starts a full copy); otherwise it clears it. A staged copy
// is recorded as staged and then applied.
func (w *ReplicationRunWorker) copy(ctx context.Context, spec *replication.RunSpec) error {
	res, rerr := w.replicator.Replicate(ctx, hypervisor.ReplicateRequest{
		SourceURI: spec.SourceURI, Domain: spec.Domain, Disk: spec.Disk,
		Target:         hypervisor.ReplicaTarget{URI: spec.TargetURI, Pool: spec.TargetPool, Volume: spec.TargetVolume},
		FromCheckpoint: spec.FromCheckpoint, NewCheckpoint: spec.NewCheckpoint, Staging: spec.Staging,
	})
	out := replication.Outcome{BytesSent: int64(res.BytesSent), Extents: int64(res.Extents), Duration: res.Duration,
		Checkpoint: res.Checkpoint, Verified: res.Verified}
	noCheckpoint := rerr != nil && spec.FromCheckpoint != "" && errors.Is(rerr, hypervisor.ErrNoCheckpoint)
	switch {
	case noCheckpoint:
		out.Err = fmt.Errorf("the checkpoint %s the copy was to start from is gone from the host; making a full copy", spec.FromCheckpoint)
		out.NoCheckpoint = true
		w.logger.Warn("replication: base checkpoint gone, falling back to a full copy", "vm", spec.VMID, "run", spec.RunID,
			"checkpoint", spec.FromCheckpoint, "err", rerr)
	case rerr != nil:
		out.Err = readableCopyError(rerr)
		// A staged run leaves the replica alone until RecordStaged.
		out.CopyUntouched = spec.Staging != "" || errors.Is(rerr, hypervisor.ErrReplicaUntouched)
		w.logger.Warn("replication run failed", "vm", spec.VMID, "run", spec.RunID, "kind", spec.Kind, "err", rerr)
	default:
		w.logger.Info("replication run done", "vm", spec.VMID, "run", spec.RunID, "kind", spec.Kind, "staged", spec.Staging != "",
			"bytes_sent", res.BytesSent, "extents", res.Extents, "took", res.Duration.Round(time.Millisecond))
	}
	if !noCheckpoint {
		spec.FromCheckpoint = ""
	}
	// The job's context may be what ended the copy: the record must not
	// depend on it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if rerr == nil && spec.Staging != "" && res.Verified && res.Checkpoint == spec.NewCheckpoint {
		st := replication.Staged{Full: res.Full, Size: res.DiskBytes, Ranges: make([][2]uint64, len(res.Ranges))}
		for i, r := range res.Ranges {
			st.Ranges[i] = [2]uint64{r.Offset, r.Length}
		}
		err := w.reps.RecordStaged(fctx, spec.RunID, st, out)
		if errors.Is(err, replication.ErrLeaseLost) {
			w.logger.Warn("replication: the run lost its vm before applying its copy; the copy stays as it was", "vm", spec.VMID, "run", spec.RunID)
			return nil
		}
		if err != nil {
			return fmt.Errorf("record staged replication run %s: %w", spec.RunID, err)
		}
		return w.apply(ctx, spec, st)
	}
	if err := w.reps.FinishRun(fctx, spec.RunID, out); err != nil {
		return fmt.Errorf("record replication run %s: %w", spec.RunID, err)
	}
	if rerr == nil {
		w.pruneCheckpoints(fctx, spec)
	}
	return nil
}

// pruneCheckpoints deletes the run's checkpoints on the source other than
// the one the run made, the base of the next run: the one it started from,
// and any left over from before a reset or a failed clean-up. A failure is
// only logged; the next good run tries again.
func (w *ReplicationRunWorker) pruneCheckpoints(ctx context.Context, spec *replication.RunSpec) {
	cps, err := w.replicator.ListCheckpoints(ctx, spec.SourceURI, spec.Domain)
	if err != nil {
		w.logger.Warn("replication: could not list checkpoints to prune them", "vm", spec.VMID, "err", err)
		return
	}
	for _, cp := range cps {
		if cp.Name == spec.NewCheckpoint || !replication.IsCheckpointName(cp.Name) {
			continue
		}
		if err := w.replicator.DeleteCheckpoint(ctx, spec.SourceURI, spec.Domain, cp.Name); err != nil {
			w.logger.Warn("replication: could not delete an old checkpoint; the next run tries again", "vm", spec.VMID,
				"checkpoint", cp.Name, "err", err)
		}
	}
}

// removeDeleted removes the replica volumes of deleted VMs, then forgets
// their replica rows. A host that cannot be reached keeps its volume until
// a later schedule.
func (w *ReplicationScheduleWorker) removeDeleted(ctx context.Context) error {
	stale, err := w.reps.DeletedReplicas(ctx, 50)
	if err != nil {
		return err
	}
	for _, s := range stale {
		if s.Remove {
			if err := w.replicator.DeleteVolume(ctx, s.HostURI, s.Pool, s.Staging); err != nil {
				w.logger.Warn("replication: could not remove the staging volume of a deleted vm; trying again later", "vm", s.VMID,
					"host", s.HostURI, "volume", s.Staging, "err", err)
				continue
			}
			if err := w.replicator.DeleteVolume(ctx, s.HostURI, s.Pool, s.Volume); err != nil {
				w.logger.Warn("replication: could not remove the replica of a deleted vm; trying again later", "vm", s.VMID,
					"host", s.HostURI, "volume", s.Volume, "err", err)
				continue
			}
			w.logger.Info("replication: replica of a deleted vm removed", "vm", s.VMID, "host", s.HostURI, "volume", s.Volume)
		}
		if err := w.reps.Forget(ctx, s.VMID); err != nil {
			return err
		}
	}
	return nil
}

// ReplicaRemoveWorker removes a VM's old replica after its replica host
// changed, and the checkpoint the old copy was based on. Both removals do
// nothing for what is already gone.
type ReplicaRemoveWorker struct {
	river.WorkerDefaults[jobargs.ReplicaRemove]
	reps       *replication.Replicas
	replicator Replicator
	logger     *slog.Logger
}

// NewReplicaRemoveWorker wires the removal of old replicas.
func NewReplicaRemoveWorker(reps *replication.Replicas, replicator Replicator, log *slog.Logger) *ReplicaRemoveWorker {
	return &ReplicaRemoveWorker{reps: reps, replicator: replicator, logger: log}
}

func (w *ReplicaRemoveWorker) Work(ctx context.Context, job *river.Job[jobargs.ReplicaRemove]) error {
	if w.replicator == nil {
		return river.JobCancel(errors.New("replication is not available: no disk copy in this build"))
	}
	s, err := w.reps.StaleReplica(ctx, job.Args)
	if err != nil {
		return err
	}
	if s.Checkpoint != "" && s.Domain != "" {
		err := w.replicator.DeleteCheckpoint(ctx, s.SourceURI, s.Domain, s.Checkpoint)
		if err != nil && !hypervisor.IsNotFound(err) {
			// The next good run prunes it.
			w.logger.Warn("replication: could not delete the old copy's checkpoint", "vm", s.VMID, "checkpoint", s.Checkpoint, "err", err)
		}
	}
	if !s.Remove {
		w.logger.Info("replication: old replica kept: its host holds the vm's disk or replica again", "vm", s.VMID, "host", s.HostURI)
		return nil
	}
	if err := w.replicator.DeleteVolume(ctx, s.HostURI, s.Pool, s.Staging); err != nil {
		return err
	}
	if err := w.replicator.DeleteVolume(ctx, s.HostURI, s.Pool, s.Volume); err != nil {
		return err
	}
	w.logger.Info("replication: old replica removed", "vm", s.VMID, "host", s.HostURI, "volume", s.Volume)
	return nil
}

// readableCopyError is what people read on the VM's page: libvirt's own
// message without the wrapping (URIs, sockets), or "timed out".
func readableCopyError(err error) error {
	if msg, ok := hypervisor.Message(err); ok {
		return errors.New(msg)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errors.New("the copy was interrupted (timed out or the portal stopped)")
	}
	return err
}
