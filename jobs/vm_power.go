package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
)

// errDomainMissing is what start, shutdown, reboot and resize report for
// a VM whose domain vanished; reprovisioning makes it again.
func errDomainMissing() error {
	return permanent("the virtual machine's domain is missing on its host; reprovision it")
}

// VMStartWorker starts a stopped VM (growing its disk first if a resize
// left that for the next start).
type VMStartWorker struct {
	vmJob[jobargs.VMStart]
}

func (w *VMStartWorker) Work(ctx context.Context, job *river.Job[jobargs.VMStart]) error {
	return w.run(ctx, job.JobRow, job.Args.VMTask, func(ctx context.Context, r *vmRun) error {
		st, err := r.hv.DomainState(ctx, r.v.HostURI, r.v.DomainName)
		if err != nil {
			return err
		}
		if st == hypervisor.StateMissing {
			return errDomainMissing()
		}
		if !active(st) {
			if err := r.growDisk(ctx); err != nil {
				return err
			}
			if err := r.begin(ctx, "starting"); err != nil {
				return err
			}
			if err := r.hv.StartDomain(ctx, r.v.HostURI, r.v.DomainName); err != nil {
				return err
			}
		}
		if err := r.waitState(ctx, hypervisor.StateRunning); err != nil {
			return err
		}
		return r.settle(ctx, compute.VMRunning)
	})
}

// VMShutdownWorker asks the guest to shut down (ACPI power button) and
// powers the VM off when it has not after the VM's shutdown timeout.
//
// The timeout may be up to an hour, far longer than an attempt may take
// (see vmJobTimeout), so an attempt waits at most shutdownWaitSlice and
// then snoozes: the job goes back to the queue without using up an
// attempt, and a crash in between costs one slice, not the whole wait.
// The deadline counts from the task's start, which survives both.
type VMShutdownWorker struct {
	vmJob[jobargs.VMShutdown]
}

const shutdownWaitSlice = 30 * time.Second

func (w *VMShutdownWorker) Work(ctx context.Context, job *river.Job[jobargs.VMShutdown]) error {
	return w.run(ctx, job.JobRow, job.Args.VMTask, func(ctx context.Context, r *vmRun) error {
		v := r.v
		st, err := r.hv.DomainState(ctx, v.HostURI, v.DomainName)
		if err != nil {
			return err
		}
		if st == hypervisor.StateMissing {
			return errDomainMissing()
		}
		if !active(st) {
			if err := r.log(ctx, "the guest has shut down"); err != nil {
				return err
			}
			return r.settle(ctx, compute.VMStopped)
		}
		task, err := r.tasks.Get(ctx, models.Viewer{Admin: true}, r.args.TaskID)
		if err != nil {
			return fmt.Errorf("load task %s: %w", r.args.TaskID, err)
		}
		started := time.Now()
		if task.StartedAt != nil {
			started = *task.StartedAt
		}
		deadline := started.Add(v.ShutdownTimeout)

		if snoozes(job.Metadata) == 0 {
			// Pressed once per job (again after a retry): a guest that is
			// shutting down ignores further presses anyway.
			if err := r.begin(ctx, fmt.Sprintf("asking the guest to shut down (ACPI); powering off after %s", v.ShutdownTimeout)); err != nil {
				return err
			}
			if err := r.hv.ShutdownDomain(ctx, v.HostURI, v.DomainName); err != nil {
				return err
			}
		}
		r.step = "waiting for the guest to shut down"
		if wait := min(time.Until(deadline), shutdownWaitSlice); wait > 0 {
			wctx, cancel := context.WithTimeout(ctx, wait)
			err := r.hv.WaitState(wctx, v.HostURI, v.DomainName, hypervisor.StateShutoff, 250*time.Millisecond)
			cancel()
			switch {
			case err == nil:
				if err := r.log(ctx, "the guest has shut down"); err != nil {
					return err
				}
				return r.settle(ctx, compute.VMStopped)
			case ctx.Err() != nil:
				return err
			case time.Now().Before(deadline):
				return river.JobSnooze(0)
			}
		}
		if err := r.begin(ctx, fmt.Sprintf("the guest did not shut down within %s; powering off", v.ShutdownTimeout)); err != nil {
			return err
		}
		if err := r.hv.DestroyDomain(ctx, v.HostURI, v.DomainName); err != nil {
			return err
		}
		return r.settle(ctx, compute.VMStopped)
	})
}

// snoozes is how often River snoozed the job (its "snoozes" metadata).
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m) // no metadata: never snoozed
	return m.Snoozes
}

// VMPowerOffWorker stops the VM at once.
type VMPowerOffWorker struct {
	vmJob[jobargs.VMPowerOff]
}

func (w *VMPowerOffWorker) Work(ctx context.Context, job *river.Job[jobargs.VMPowerOff]) error {
	return w.run(ctx, job.JobRow, job.Args.VMTask, func(ctx context.Context, r *vmRun) error {
		if err := r.begin(ctx, "powering off"); err != nil {
			return err
		}
		// DestroyDomain returns once QEMU is gone, and does nothing for a
		// domain that is off or missing (the reconciler reports the latter).
		if err := r.hv.DestroyDomain(ctx, r.v.HostURI, r.v.DomainName); err != nil {
			return err
		}
		return r.settle(ctx, compute.VMStopped)
	})
}

// VMRebootWorker asks the guest to restart (ACPI). A VM found shut off is
// started instead, so that the job always ends with the guest up.
type VMRebootWorker struct {
	vmJob[jobargs.VMReboot]
}

func (w *VMRebootWorker) Work(ctx context.Context, job *river.Job[jobargs.VMReboot]) error {
	return w.run(ctx, job.JobRow, job.Args.VMTask, func(ctx context.Context, r *vmRun) error {
		st, err := r.hv.DomainState(ctx, r.v.HostURI, r.v.DomainName)
		if err != nil {
			return err
		}
		if st == hypervisor.StateMissing {
			return errDomainMissing()
		}
		if err := r.begin(ctx, "rebooting (ACPI)"); err != nil {
			return err
		}
		if err := r.hv.RebootDomain(ctx, r.v.HostURI, r.v.DomainName); err != nil {
			return err
		}
		if err := r.waitState(ctx, hypervisor.StateRunning); err != nil {
			return err
		}
		return r.settle(ctx, compute.VMRunning)
	})
}
