package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/replication"
)

// FailoverWorker starts a VM of a fenced host on its replica host from the
// last good copy (models/replication, failover.go). Every step is
// idempotent, so a retry after a crash anywhere ends with one domain on
// the new host: the overlay over the copy is created if missing, the seed
// uploaded again, the domain defined if different and started if not
// running, and the move recorded once.
type FailoverWorker struct {
	vmJob[jobargs.ReplicationFailover]
	reps *replication.Replicas
}

func (w *FailoverWorker) Work(ctx context.Context, job *river.Job[jobargs.ReplicationFailover]) error {
	return w.run(ctx, job.JobRow, job.Args.VMTask, func(ctx context.Context, r *vmRun) error {
		return w.failover(ctx, r, job.Args)
	})
}

func (w *FailoverWorker) failover(ctx context.Context, r *vmRun, args jobargs.ReplicationFailover) error {
	f, err := w.reps.FailoverJob(ctx, args.FailoverID)
	if err != nil {
		return err
	}
	if f.Done() {
		return r.succeed(ctx)
	}
	// Never two copies: the old host must still be fenced (by the fencing
	// this move belongs to) and the VM still recorded there.
	if !f.FromFenced {
		return permanent("host %s is no longer fenced; not started elsewhere", f.FromHostID)
	}
	if f.VMHostID != f.FromHostID {
		return permanent("the virtual machine moved meanwhile; not started")
	}
	v, err := w.vms.ForJobOn(ctx, args.VMID, f.ToHostID)
	if err != nil {
		return err
	}
	v.DiskVolume, v.DiskPool = f.NewVolume, f.Pool
	on := &vmRun{vmWorkers: r.vmWorkers, job: r.job, args: r.args, v: v}
	copyAt := f.LastGoodAt.Format("15:04:05")

	if err := on.begin(ctx, fmt.Sprintf("host fenced at %s; starting on %s from the copy of %s (UTC)",
		f.FencedAt.Format("15:04:05"), f.ToHostName, copyAt)); err != nil {
		return err
	}
	state := compute.VMStopped
	if f.PriorState != compute.VMStopped {
		state = compute.VMRunning
	}
	if err := on.startFromCopy(ctx, f.ToHostName, f.Pool, f.CopyVolume, "from the copy of "+copyAt, state == compute.VMRunning); err != nil {
		return err
	}
	on.step = "recording the move"
	if err := w.reps.CompleteFailover(ctx, f.ID, state); err != nil {
		return err
	}
	// The copy is the VM's disk now; the volume runs staged into beside it
	// is of no use.
	if err := on.hv.DeleteVolume(ctx, v.HostURI, f.Pool, replication.StagingOf(f.CopyVolume)); err != nil {
		w.logger.Warn("failover: old staging volume not removed", "vm", args.VMID, "host", f.ToHostName, "err", err)
	}
	if err := on.log(ctx, fmt.Sprintf("last good copy was %d s before the failover (data written after %s UTC is lost)",
		int64(f.DataLossWindow().Seconds()), copyAt)); err != nil {
		return err
	}
	return on.succeed(ctx)
}

// startFromCopy brings the VM up on the host its run is for (on.v:
// HostURI, DiskVolume — the new overlay — and DiskPool) from the copy
// copyVolume there: the overlay over the copy is created, the seed uploaded
// and the domain defined unless the domain is active already, and with run
// it is started and waited for. Failover and switchover share it; every
// step is idempotent.
func (on *vmRun) startFromCopy(ctx context.Context, hostName, pool, copyVolume, what string, run bool) error {
	v := on.v
	st, err := on.hv.DomainState(ctx, v.HostURI, v.DomainName)
	if err != nil {
		return err
	}
	if !active(st) {
		if err := on.begin(ctx, fmt.Sprintf("creating disk %s on %s over the copy %s", v.DiskVolume, hostName, copyVolume)); err != nil {
			return err
		}
		if _, err := on.hv.CreateDiskVolume(ctx, v.HostURI, pool, v.DiskVolume, on.diskBytes(),
			&hypervisor.VolumeRef{Pool: pool, Name: copyVolume}); err != nil {
			if hypervisor.IsNotFound(err) {
				return permanent("the copy %s is not on host %s", copyVolume, hostName)
			}
			return err
		}
		if err := on.begin(ctx, "uploading cloud-init seed"); err != nil {
			return err
		}
		iso, err := hypervisor.BuildSeedISO(on.seed())
		if err != nil {
			return permanentError{err}
		}
		if err := on.hv.UploadSeed(ctx, v.HostURI, pool, v.SeedVolume, iso); err != nil {
			return err
		}
		spec, err := on.domainSpec(ctx)
		if err != nil {
			return err
		}
		if err := on.begin(ctx, fmt.Sprintf("defining domain %s on %s", v.DomainName, hostName)); err != nil {
			return err
		}
		if err := on.hv.DefineDomain(ctx, v.HostURI, spec); err != nil {
			return err
		}
		if err := on.log(ctx, fmt.Sprintf("defined on %s %s", hostName, what)); err != nil {
			return err
		}
	}
	if !run {
		return nil
	}
	if !active(st) {
		if err := on.begin(ctx, "starting"); err != nil {
			return err
		}
		if err := on.hv.StartDomain(ctx, v.HostURI, v.DomainName); err != nil {
			return err
		}
	}
	if err := on.waitState(ctx, hypervisor.StateRunning); err != nil {
		return err
	}
	return on.log(ctx, "started on "+hostName)
}

// FenceWorker runs the configured fence command against a host (its name
// and URI as the arguments) and, when it exits 0, fails the host over in
// the name of the admin who asked.
type FenceWorker struct {
	river.WorkerDefaults[jobargs.HostFence]
	hosts   *compute.Hosts
	reps    *replication.Replicas
	command string
	logger  *slog.Logger
}

const fenceTimeout = time.Minute

func (w *FenceWorker) Timeout(*river.Job[jobargs.HostFence]) time.Duration {
	return fenceTimeout + 30*time.Second
}

func (w *FenceWorker) Work(ctx context.Context, job *river.Job[jobargs.HostFence]) error {
	a := job.Args
	if w.command == "" {
		return river.JobCancel(errors.New("no fence command is configured (--fence-command)"))
	}
	h, err := w.hosts.Get(ctx, a.HostID)
	if err != nil {
		return river.JobCancel(err)
	}
	fields := strings.Fields(w.command)
	cctx, cancel := context.WithTimeout(ctx, fenceTimeout)
	defer cancel()
	out, err := exec.CommandContext(cctx, fields[0], append(fields[1:], h.Name, h.URI)...).CombinedOutput()
	if err != nil {
		w.logger.Error("fence command failed; the host is not failed over", "host", h.Name, "err", err, "output", string(out))
		return river.JobCancel(fmt.Errorf("fence command for host %s: %w: %s", h.Name, err, strings.TrimSpace(string(out))))
	}
	w.logger.Warn("fence command succeeded; failing the host over", "host", h.Name, "by", a.Email)
	// The command says the host is off: it answers no more, whatever the
	// last inventory read found.
	if err := w.hosts.StoreUnreachable(ctx, h.ID, errors.New("powered off by the fence command")); err != nil {
		return err
	}
	actor := models.Actor{UserID: a.UserID, Email: a.Email, IP: a.IP}
	res, err := w.reps.Failover(ctx, actor, models.Viewer{UserID: a.UserID, Admin: true}, h.ID,
		replication.FailoverInput{Method: replication.FenceCommand})
	if err != nil {
		return err
	}
	w.logger.Warn("host failed over", "host", h.Name, "started", len(res.Started), "not_started", len(res.NotStarted))
	return nil
}

// ReclaimWorker is the periodic look at fenced hosts: a host that answers
// again has the stale copies of the VMs that left it removed — the domain
// destroyed if it somehow runs, undefined, its old disk and seed deleted —
// and, when nothing is left, its fencing ends (Replicas.Unfence), which
// makes it the replica host of those VMs again (a full copy).
type ReclaimWorker struct {
	river.WorkerDefaults[jobargs.ReclaimHosts]
	reps   *replication.Replicas
	hv     VMHypervisor
	logger *slog.Logger
}

// reclaimEvery is how often fenced hosts are looked at.
const reclaimEvery = 10 * time.Second

func (w *ReclaimWorker) Timeout(*river.Job[jobargs.ReclaimHosts]) time.Duration {
	return 2 * time.Minute
}

func (w *ReclaimWorker) Work(ctx context.Context, _ *river.Job[jobargs.ReclaimHosts]) error {
	hosts, err := w.reps.FencedHosts(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hosts {
		if err := w.host(ctx, h); err != nil {
			errs = append(errs, fmt.Errorf("reclaim host %s: %w", h.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		w.logger.Warn("reclaim incomplete", "err", err)
	}
	return nil // the next round comes soon
}

func (w *ReclaimWorker) host(ctx context.Context, h compute.Host) error {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	doms, err := w.hv.ListDomains(lctx, h.URI, domainPrefix)
	cancel()
	if err != nil {
		return nil // still gone
	}
	running := map[string]bool{}
	for _, d := range doms {
		running[d.Name] = active(d.State)
	}
	stale, pending, err := w.reps.Stale(ctx, h.ID)
	if err != nil {
		return err
	}
	for _, s := range stale {
		if running[s.Domain] {
			w.logger.Error("a failed-over VM's stale domain RUNS on its old host; destroying it", "host", h.Name, "vm", s.VMID)
		}
		if err := w.hv.UndefineDomain(ctx, h.URI, s.Domain); err != nil {
			return err
		}
		for _, vol := range s.Volumes {
			if err := w.hv.DeleteVolume(ctx, h.URI, s.Pool, vol); err != nil {
				return err
			}
		}
		if err := w.reps.StaleRemoved(ctx, s.FailoverID, running[s.Domain]); err != nil {
			return err
		}
		w.logger.Info("stale copy removed", "host", h.Name, "vm", s.VMID, "domain", s.Domain)
	}
	if pending > 0 {
		return nil
	}
	if ok, err := w.reps.Unfence(ctx, h.ID); err != nil {
		return err
	} else if ok {
		w.logger.Warn("host is back and no longer fenced", "host", h.Name)
	}
	return nil
}
