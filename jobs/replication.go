package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models/replication"
)

// scheduleEvery is how often the schedule looks for due runs; with the
// 30 s minimum interval a run starts at most 10 s late.
const scheduleEvery = 10 * time.Second

// ReplicaTarget is where a replica goes: a volume in a pool of a host.
type ReplicaTarget struct {
	URI, Pool, Volume string
}

// ReplicateRequest is one copy of a VM's disk. Without FromCheckpoint the
// whole disk is copied; NewCheckpoint is made on the source and is where
// the next incremental copy starts.
type ReplicateRequest struct {
	SourceURI      string
	Domain         string
	Disk           string // the guest's disk target, "vda"
	Target         ReplicaTarget
	FromCheckpoint string
	NewCheckpoint  string
}

// ReplicateResult is what a copy did; Verified means the target's data
// was checked against the source's.
type ReplicateResult struct {
	BytesSent  int64
	Extents    int
	Duration   time.Duration
	Checkpoint string
	Verified   bool
}

// Replicator copies a VM's disk to its replica host. It mirrors the
// hypervisor layer's disk copy (hypervisor/replicate.go, built in
// parallel); an adapter over *hypervisor.Manager is wired in web once that
// lands, and tests pass a fake.
type Replicator interface {
	Replicate(ctx context.Context, req ReplicateRequest) (ReplicateResult, error)
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
	spec, err := w.reps.BeginRun(ctx, job.Args.VMID)
	if errors.Is(err, replication.ErrNotDue) {
		return nil // another run holds the VM, or it is no longer due
	}
	if err != nil {
		return fmt.Errorf("begin replication of vm %s: %w", job.Args.VMID, err)
	}
	res, rerr := w.replicator.Replicate(ctx, ReplicateRequest{
		SourceURI: spec.SourceURI, Domain: spec.Domain, Disk: spec.Disk,
		Target:         ReplicaTarget{URI: spec.TargetURI, Pool: spec.TargetPool, Volume: spec.TargetVolume},
		FromCheckpoint: spec.FromCheckpoint, NewCheckpoint: spec.NewCheckpoint,
	})
	out := replication.Outcome{BytesSent: res.BytesSent, Extents: int64(res.Extents), Duration: res.Duration,
		Checkpoint: res.Checkpoint, Verified: res.Verified}
	if rerr != nil {
		out.Err = readableCopyError(rerr)
		w.logger.Warn("replication run failed", "vm", spec.VMID, "run", spec.RunID, "kind", spec.Kind, "err", rerr)
	}
	// The job's context may be what ended the copy: the record must not
	// depend on it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := w.reps.FinishRun(fctx, spec.RunID, out); err != nil {
		return fmt.Errorf("record replication run %s: %w", spec.RunID, err)
	}
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
