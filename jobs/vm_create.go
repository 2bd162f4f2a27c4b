package jobs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models/compute"
)

// VMCreateWorker provisions a VM: its disk (a copy-on-write clone of the
// image, sized to the plan), its cloud-init seed and its domain, and
// starts it. Reprovisioning runs the same job.
//
// Each step leaves libvirt as the step wants it whether or not it ran
// before (create-if-missing, define-if-different, start-if-not-running),
// so a retry after a crash at any point finishes the VM with one domain
// and one disk and one seed volume.
type VMCreateWorker struct {
	vmJob[jobargs.VMCreate]
}

func (w *VMCreateWorker) Work(ctx context.Context, job *river.Job[jobargs.VMCreate]) error {
	return w.run(ctx, job.JobRow, job.Args.VMTask, create)
}

func create(ctx context.Context, r *vmRun) error {
	v := r.v
	st, err := r.hv.DomainState(ctx, v.HostURI, v.DomainName)
	if err != nil {
		return err
	}
	// A running domain means an earlier attempt got past the start; the
	// seed must then not be replaced under the guest.
	if !active(st) {
		if err := provision(ctx, r); err != nil {
			return err
		}
		if err := r.begin(ctx, "starting"); err != nil {
			return err
		}
		if err := r.hv.StartDomain(ctx, v.HostURI, v.DomainName); err != nil {
			return err
		}
	}
	if err := r.waitState(ctx, hypervisor.StateRunning); err != nil {
		return err
	}
	if err := r.log(ctx, "running"); err != nil {
		return err
	}
	return r.settle(ctx, compute.VMRunning)
}

// provision makes the disk, the seed and the domain definition.
func provision(ctx context.Context, r *vmRun) error {
	v := r.v
	size := r.diskBytes()
	if v.ImageVirtualSizeBytes > 0 && uint64(v.ImageVirtualSizeBytes) > size {
		return permanent("the plan's disk (%d GiB) is smaller than the image %s (%.1f GiB)",
			v.DiskGiB, v.ImageVolume, float64(v.ImageVirtualSizeBytes)/(1<<30))
	}
	err := r.begin(ctx, fmt.Sprintf("creating disk volume %s (%d GiB) from image %s", v.DiskVolume, v.DiskGiB, v.ImageVolume))
	if err != nil {
		return err
	}
	info, err := r.hv.CreateDiskVolume(ctx, v.HostURI, v.DiskPool, v.DiskVolume, size,
		&hypervisor.VolumeRef{Pool: v.ImagePool, Name: v.ImageVolume})
	if err != nil {
		return err
	}
	// An existing disk is kept as it is (reprovisioning keeps the data); if
	// the plan grew since it was made, grow it now.
	if info.CapacityBytes < size {
		if err := r.growDisk(ctx); err != nil {
			return err
		}
	}

	if err := r.begin(ctx, "uploading cloud-init seed"); err != nil {
		return err
	}
	iso, err := hypervisor.BuildSeedISO(r.seed())
	if err != nil {
		return permanentError{err}
	}
	if err := r.hv.UploadSeed(ctx, v.HostURI, v.DiskPool, v.SeedVolume, iso); err != nil {
		return err
	}

	spec, err := r.domainSpec(ctx)
	if err != nil {
		return err
	}
	if err := r.begin(ctx, fmt.Sprintf("defining domain %s (%d vCPU, %d MiB, %s)", v.DomainName, spec.VCPUs, spec.MemoryMiB, spec.Type)); err != nil {
		return err
	}
	return r.hv.DefineDomain(ctx, v.HostURI, spec)
}
