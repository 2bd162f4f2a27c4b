package jobs

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/moderation"
)

// ModerationHypervisor is what sanctions need of libvirt;
// *hypervisor.Manager.
type ModerationHypervisor interface {
	DomainState(ctx context.Context, uri, name string) (hypervisor.DomainState, error)
	SuspendDomain(ctx context.Context, uri, name string) error
	ResumeDomain(ctx context.Context, uri, name string) error
	DestroyDomain(ctx context.Context, uri, name string) error
	SetThrottle(ctx context.Context, uri, name, disk string, t hypervisor.Throttle) error
	ReadThrottle(ctx context.Context, uri, name, disk string) (hypervisor.Throttle, error)
}

// bootDisk is the target of a VM's disk in its domain (domain_xml.go).
const bootDisk = "vda"

// enforcer brings VMs in line with the sanctions in force; the enforce
// job and the reconciler share it.
type enforcer struct {
	mod    *moderation.Moderation
	vms    *compute.VMs
	hv     ModerationHypervisor
	logger *slog.Logger

	mu    sync.Mutex
	noCPU map[string]bool // host URIs whose libvirt cannot limit CPU
}

func (e *enforcer) markNoCPU(uri string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.noCPU == nil {
		e.noCPU = map[string]bool{}
	}
	e.noCPU[uri] = true
}

func (e *enforcer) cpuUnsupported(uri string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.noCPU[uri]
}

// enforce applies what the sanctions ask of one VM: the throttle (set or
// cleared, live and persistent), the pause of a locked VM, and the end of
// that pause once no lock is left (unpause). Each step looks first, so a
// retry or a second run changes nothing. reconcile says the reconciler
// found the VM: its log lines say the VM was changed behind the portal's
// back.
func (e *enforcer) enforce(ctx context.Context, vmID, caseID string, reconcile bool) error {
	v, err := e.vms.ForJob(ctx, vmID)
	if err != nil {
		return err
	}
	if v.VM.State == compute.VMDeleted {
		return nil
	}
	if v.VM.State.Transitional() {
		if reconcile {
			return nil
		}
		return river.JobSnooze(15 * time.Second) // a VM job is at work; come back after it
	}
	eff, err := e.mod.EffectOf(ctx, vmID)
	if err != nil {
		return err
	}
	if caseID == "" {
		caseID = eff.CaseID
	}
	st, err := e.hv.DomainState(ctx, v.HostURI, v.DomainName)
	if err != nil {
		return err
	}
	if st == hypervisor.StateMissing {
		return nil // the reconciler reports it; nothing to throttle
	}
	want := hypervisor.Throttle{DiskBytesSec: eff.DiskBytesSec, CPUPercent: eff.CPUPercent}
	cur, err := e.hv.ReadThrottle(ctx, v.HostURI, v.DomainName, bootDisk)
	if err != nil {
		return err
	}
	// Without a CPU controller on the host only the disk can be limited;
	// the CPU is then compared as what the host can do (nothing).
	if cur != want && !(cur.DiskBytesSec == want.DiskBytesSec && cur.CPUPercent == 0 && e.cpuUnsupported(v.HostURI)) {
		cpuNote := models.Msgf("CPU %d %% per vCPU", want.CPUPercent)
		err := e.hv.SetThrottle(ctx, v.HostURI, v.DomainName, bootDisk, want)
		if errors.Is(err, hypervisor.ErrCPULimitUnsupported) {
			e.markNoCPU(v.HostURI)
			cpuNote, err = models.Msgf("CPU limit: not supported on this host (no cgroup CPU controller)"), nil
		}
		if err != nil {
			return err
		}
		line := models.Msgf("throttle set on %s: disk %d KiB/s read and write, %s (live and persistent); %s",
			v.VM.Name, want.DiskBytesSec/1024, cpuNote, models.Msg{Format: moderation.NetworkLimitNote})
		switch {
		case want == (hypervisor.Throttle{}):
			line = models.Msgf("throttle removed from %s", v.VM.Name)
		case reconcile:
			line = models.Msgf("the reconciler found %s without its throttle (disk %d KiB/s, CPU %d %% found); set again", v.VM.Name, cur.DiskBytesSec/1024, cur.CPUPercent)
		}
		if err := e.mod.LogVM(ctx, caseID, vmID, line); err != nil {
			return err
		}
	}
	switch {
	case eff.Locked && st == hypervisor.StateRunning:
		if err := e.hv.SuspendDomain(ctx, v.HostURI, v.DomainName); err != nil {
			return err
		}
		line := models.Msgf("%s paused and locked; its console stays open", v.VM.Name)
		switch {
		case reconcile && v.VM.State == compute.VMStopped:
			line = models.Msgf("the reconciler found the locked %s running although its member had stopped it (started behind the portal's back); paused", v.VM.Name)
		case reconcile:
			line = models.Msgf("the reconciler found the locked %s running (resumed behind the portal's back); paused again", v.VM.Name)
		}
		return e.mod.MarkPaused(ctx, caseID, vmID, line)
	case !eff.Locked && eff.Paused:
		return e.unpause(ctx, v, st, caseID)
	}
	return nil
}

// unpause undoes moderation's pause of a VM no longer locked, as its
// member left it: a VM the member left running resumes; one the member had
// stopped, which someone started behind the portal's back and moderation
// then paused, is switched off (it was frozen since; the database and the
// member's page say stopped). A domain no longer paused was resumed or
// switched off by someone else: only the mark goes.
func (e *enforcer) unpause(ctx context.Context, v *compute.VMJobView, st hypervisor.DomainState, caseID string) error {
	var line models.Msg // zero: nothing to log
	switch {
	case st == hypervisor.StatePaused && v.VM.State == compute.VMRunning:
		if err := e.hv.ResumeDomain(ctx, v.HostURI, v.DomainName); err != nil {
			return err
		}
		line = models.Msgf("%s no longer locked; resumed", v.VM.Name)
	case st == hypervisor.StatePaused && v.VM.State == compute.VMStopped:
		if err := e.hv.DestroyDomain(ctx, v.HostURI, v.DomainName); err != nil {
			return err
		}
		line = models.Msgf("%s no longer locked; switched off, as its member had stopped it (it had been started behind the portal's back and paused)", v.VM.Name)
	case st == hypervisor.StatePaused:
		return nil // neither running nor stopped (failed…): leave it to the admins and the drift page
	}
	return e.mod.Unpaused(ctx, caseID, v.VM.ID, line)
}

// ModerationEnforceWorker carries out a sanction's effect on one VM.
type ModerationEnforceWorker struct {
	river.WorkerDefaults[jobargs.ModerationEnforce]
	e *enforcer
}

// NewModerationEnforceWorker is the worker on its own, for tests with a
// fake hypervisor (NewWorking registers it with the reconciler's).
func NewModerationEnforceWorker(mod *moderation.Moderation, vms *compute.VMs, hv ModerationHypervisor, log *slog.Logger) *ModerationEnforceWorker {
	return &ModerationEnforceWorker{e: &enforcer{mod: mod, vms: vms, hv: hv, logger: log}}
}

func (w *ModerationEnforceWorker) Timeout(*river.Job[jobargs.ModerationEnforce]) time.Duration {
	return vmJobTimeout
}

func (w *ModerationEnforceWorker) Work(ctx context.Context, job *river.Job[jobargs.ModerationEnforce]) error {
	return w.e.enforce(ctx, job.Args.VMID, job.Args.CaseID, false)
}

// ModerationSweepWorker ends sanctions whose time is up and unconfirmed
// emergency suspensions; their effects are undone by enforce jobs. It also
// forgets abuse form submissions older than the form's rate window.
type ModerationSweepWorker struct {
	river.WorkerDefaults[jobargs.ModerationSweep]
	mod    *moderation.Moderation
	logger *slog.Logger
}

func (w *ModerationSweepWorker) Work(ctx context.Context, _ *river.Job[jobargs.ModerationSweep]) error {
	n, err := w.mod.Sweep(ctx)
	if n > 0 {
		w.logger.Info("sanctions ended", "count", n)
	}
	return errors.Join(err, w.mod.PruneAbuseAttempts(ctx))
}

// sweepEvery is how often sanctions are checked for their end.
const sweepEvery = time.Minute

// reconcileSanctions re-applies, after a host's listing, the effects of the
// sanctions on its VMs: a throttle lost in a restart of the VM or the host
// is set again, a locked VM found running is paused again (and its case
// log says so).
func (e *enforcer) reconcileHost(ctx context.Context, hostID string) error {
	ids, err := e.mod.Sanctioned(ctx, hostID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := e.enforce(ctx, id, "", true); err != nil {
			e.logger.Warn("reconcile sanction", "vm", id, "err", err)
		}
	}
	return nil
}
