package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"allmende/jobs/jobargs"
	"allmende/models/compute"
)

// domainPrefix marks the portal's domains (models.VM.DomainName).
const domainPrefix = "allmende-"

// reconcileInterval is how often the reconciler compares the database with
// the hosts.
const reconcileInterval = time.Minute

// ReconcileWorker compares, for every host that answers, the domains the
// database expects with those libvirt has, and records the differences
// (VMs.RecordDrift). It changes nothing on the hosts itself: a domain the
// database does not know is reported, never deleted, and a VM its member
// left running that is found shut off is started again by the ordinary
// start job, which RecordDrift queues (models/compute/vm_restart.go).
//
// It also fails tasks whose River job ended without the worker recording
// an outcome (a job the rescuer discarded after its last attempt, or one
// whose final failure could not be written): their VMs would otherwise wait
// in a transitional state forever.
type ReconcileWorker struct {
	river.WorkerDefaults[jobargs.Reconcile]
	hosts  *compute.Hosts
	vms    *compute.VMs
	tasks  *compute.Tasks
	hv     VMHypervisor
	logger *slog.Logger
	// sanctions re-applies the effects of moderation's sanctions on the
	// host's VMs (jobs/moderation.go); nil without moderation.
	sanctions *enforcer
}

func (w *ReconcileWorker) Timeout(*river.Job[jobargs.Reconcile]) time.Duration {
	return 90 * time.Second
}

// perHost bounds one host's listing, so that an unreachable host (the
// manager redials for up to 30 s) does not hold up the others for long.
const perHost = 15 * time.Second

func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[jobargs.Reconcile]) error {
	hosts, err := w.hosts.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hosts {
		if err := w.host(ctx, h); err != nil {
			errs = append(errs, fmt.Errorf("reconcile host %s: %w", h.Name, err))
		}
	}
	if err := w.failAbandoned(ctx); err != nil {
		errs = append(errs, err)
	}
	// The next run comes within a minute: no retries of this one.
	if err := errors.Join(errs...); err != nil {
		w.logger.Warn("reconcile incomplete", "err", err)
	}
	return nil
}

func (w *ReconcileWorker) host(ctx context.Context, h compute.Host) error {
	before, err := w.vms.Expected(ctx, h.ID)
	if err != nil {
		return err
	}
	hctx, cancel := context.WithTimeout(ctx, perHost)
	doms, err := w.hv.ListDomains(hctx, h.URI, domainPrefix)
	cancel()
	if err != nil {
		// An unreachable host tells nothing about its domains: recording
		// an empty list would mark every VM on it missing.
		return err
	}
	after, err := w.vms.Expected(ctx, h.ID)
	if err != nil {
		return err
	}
	// RecordDrift judges the listing by the VMs' states when it runs. A VM
	// that a job finished between the listing and now (provisioning →
	// running) would look missing; skip the host this round instead.
	if !sameExpected(before, after) {
		w.logger.Debug("vms changed during reconcile; next round", "host", h.Name)
		return nil
	}
	found := make([]compute.ObservedDomain, len(doms))
	for i, d := range doms {
		found[i] = compute.ObservedDomain{Name: d.Name, Running: active(d.State), GuestShutdown: d.GuestShutdown}
	}
	if err := w.vms.RecordDrift(ctx, h.ID, found); err != nil {
		return err
	}
	if w.sanctions != nil {
		return w.sanctions.reconcileHost(ctx, h.ID)
	}
	return nil
}

func sameExpected(a, b []compute.ExpectedDomain) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].VMID != b[i].VMID || a[i].State != b[i].State {
			return false
		}
	}
	return true
}

// failAbandoned fails active tasks whose River job ended without the
// worker recording an outcome; the domain knows which those are.
func (w *ReconcileWorker) failAbandoned(ctx context.Context) error {
	n, err := w.tasks.FailAbandoned(ctx)
	if n > 0 {
		w.logger.Warn("failed tasks whose job ended without an outcome", "tasks", n)
	}
	return err
}
