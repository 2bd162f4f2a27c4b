package jobs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models/compute"
)

// VMResizeWorker applies the VM's new plan, which the domain has already
// recorded: on a stopped VM it grows the disk and redefines vCPUs and
// memory; on a running one (where the domain allows only the disk to
// change) the disk grows at the next start, because QEMU holds a write
// lock on a running guest's disk and the hypervisor layer has no live
// block resize. The VM returns to the state it had before.
type VMResizeWorker struct {
	vmJob[jobargs.VMResize]
}

func (w *VMResizeWorker) Work(ctx context.Context, job *river.Job[jobargs.VMResize]) error {
	return w.run(ctx, job.JobRow, job.Args.VMTask, resize)
}

func resize(ctx context.Context, r *vmRun) error {
	v := r.v
	back := v.VM.PriorState
	if back != compute.VMRunning && back != compute.VMStopped {
		// Resize starts only from these (models/vm_actions.go).
		return permanent("cannot tell which state to return to (prior state %q)", back)
	}
	st, err := r.hv.DomainState(ctx, v.HostURI, v.DomainName)
	if err != nil {
		return err
	}
	if st == hypervisor.StateMissing {
		return errDomainMissing()
	}
	if active(st) {
		info, err := r.hv.VolumeInfo(ctx, v.HostURI, v.DiskPool, v.DiskVolume)
		if err != nil {
			return err
		}
		if info.CapacityBytes < r.diskBytes() {
			if err := r.log(ctx, fmt.Sprintf("the disk grows to %d GiB when the virtual machine is next started", v.DiskGiB)); err != nil {
				return err
			}
		}
		return r.settle(ctx, back)
	}
	if err := r.growDisk(ctx); err != nil {
		return err
	}
	spec, err := r.domainSpec(ctx)
	if err != nil {
		return err
	}
	if err := r.begin(ctx, fmt.Sprintf("redefining domain with %d vCPU and %d MiB", spec.VCPUs, spec.MemoryMiB)); err != nil {
		return err
	}
	if err := r.hv.DefineDomain(ctx, v.HostURI, spec); err != nil {
		return err
	}
	if back == compute.VMRunning {
		// Only reachable if the guest stopped by itself meanwhile: start
		// it again, as the member left it running.
		if err := r.begin(ctx, "starting"); err != nil {
			return err
		}
		if err := r.hv.StartDomain(ctx, v.HostURI, v.DomainName); err != nil {
			return err
		}
		if err := r.waitState(ctx, hypervisor.StateRunning); err != nil {
			return err
		}
	}
	return r.settle(ctx, back)
}
