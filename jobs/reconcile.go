package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"allmende/jobs/jobargs"
	"allmende/models"
)

// domainPrefix marks the portal's domains (models.VM.DomainName).
const domainPrefix = "allmende-"

// reconcileInterval is how often the reconciler compares the database with
// the hosts.
const reconcileInterval = time.Minute

// ReconcileWorker compares, for every host that answers, the domains the
// database expects with those libvirt has, and records the differences
// (VMs.RecordDrift). It changes nothing on the hosts: a domain the
// database does not know is reported, never deleted.
//
// It also fails tasks whose River job ended without the worker recording
// an outcome (a job the rescuer discarded after its last attempt, or one
// whose final failure could not be written): their VMs would otherwise wait
// in a transitional state forever.
type ReconcileWorker struct {
	river.WorkerDefaults[jobargs.Reconcile]
	db     *models.DB
	hosts  *models.Hosts
	vms    *models.VMs
	tasks  *models.Tasks
	hv     VMHypervisor
	logger *slog.Logger
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

func (w *ReconcileWorker) host(ctx context.Context, h models.Host) error {
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
	found := make([]models.ObservedDomain, len(doms))
	for i, d := range doms {
		found[i] = models.ObservedDomain{Name: d.Name, Running: active(d.State)}
	}
	return w.vms.RecordDrift(ctx, h.ID, found)
}

func sameExpected(a, b []models.ExpectedDomain) bool {
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

// failAbandoned fails active tasks whose River job is finalized. The
// workers always record a task's outcome before their job completes or is
// cancelled, so such a task has no one left to finish it.
func (w *ReconcileWorker) failAbandoned(ctx context.Context) error {
	rows, err := w.db.SQL.QueryContext(ctx, `SELECT t.id, j.state FROM tasks t JOIN river_job j ON j.id = t.river_job_id
		WHERE t.status IN ('queued', 'running') AND j.state IN ('completed', 'cancelled', 'discarded')`)
	if err != nil {
		return fmt.Errorf("find abandoned tasks: %w", err)
	}
	type abandoned struct{ task, state string }
	var list []abandoned
	for rows.Next() {
		var a abandoned
		if err := rows.Scan(&a.task, &a.state); err != nil {
			rows.Close()
			return fmt.Errorf("scan abandoned task: %w", err)
		}
		list = append(list, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find abandoned tasks: %w", err)
	}
	var errs []error
	for _, a := range list {
		w.logger.Warn("failing a task whose job ended without an outcome", "task", a.task, "job_state", a.state)
		cause := &models.Error{Safe: "the background job gave up without finishing the task; please try again"}
		if err := w.tasks.Fail(ctx, a.task, cause); err != nil {
			errs = append(errs, fmt.Errorf("fail abandoned task %s: %w", a.task, err))
		}
	}
	return errors.Join(errs...)
}
