package jobs

import (
	"context"

	"github.com/riverqueue/river"

	"allmende/jobs/jobargs"
	"allmende/models/compute"
)

// VMDeleteWorker removes the domain (destroying it if it runs), the disk
// and the seed volume, then records the VM as deleted, which releases its
// address. Each removal does nothing for what is already gone, so a retry
// after a crash ends with nothing left behind.
type VMDeleteWorker struct {
	vmJob[jobargs.VMDelete]
}

func (w *VMDeleteWorker) Work(ctx context.Context, job *river.Job[jobargs.VMDelete]) error {
	return w.run(ctx, job.JobRow, job.Args.VMTask, func(ctx context.Context, r *vmRun) error {
		v := r.v
		if err := r.begin(ctx, "removing domain "+v.DomainName); err != nil {
			return err
		}
		if err := r.hv.UndefineDomain(ctx, v.HostURI, v.DomainName); err != nil {
			return err
		}
		if err := r.begin(ctx, "deleting volumes "+v.DiskVolume+" and "+v.SeedVolume); err != nil {
			return err
		}
		vols := []string{v.DiskVolume, v.SeedVolume}
		if g := v.VM.DiskGeneration; g > 0 {
			// A failed-over VM's disk is an overlay over the copy it was
			// started from, which is of the generation before.
			vols = append(vols, compute.DiskVolumeOf(v.DomainName, g-1))
		}
		for _, vol := range vols {
			if err := r.hv.DeleteVolume(ctx, v.HostURI, v.DiskPool, vol); err != nil {
				return err
			}
		}
		r.step = ""
		if err := r.vms.MarkDeleted(ctx, v.VM.ID); err != nil {
			return err
		}
		return r.succeed(ctx)
	})
}
