package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
)

// Hypervisor is the part of the hypervisor layer the workers use.
type Hypervisor interface {
	Inventory(ctx context.Context, uri string) (hypervisor.Inventory, error)
}

// RefreshHostWorker reads a host's inventory from libvirt and stores it.
// Reading is side-effect free, so retrying is always safe.
type RefreshHostWorker struct {
	river.WorkerDefaults[jobargs.RefreshHost]
	hosts *compute.Hosts
	hv    Hypervisor
}

func (w *RefreshHostWorker) Timeout(*river.Job[jobargs.RefreshHost]) time.Duration {
	return 30 * time.Second
}

func (w *RefreshHostWorker) Work(ctx context.Context, job *river.Job[jobargs.RefreshHost]) error {
	host, err := w.hosts.Get(ctx, job.Args.HostID)
	if models.IsNotFound(err) {
		return river.JobCancel(fmt.Errorf("host %s no longer exists", job.Args.HostID))
	}
	if err != nil {
		return err
	}
	inv, err := w.hv.Inventory(ctx, host.URI)
	if err != nil {
		// Record the failure for the Hosts page, then let River retry.
		if serr := w.hosts.StoreUnreachable(ctx, host.ID, err); serr != nil {
			return errors.Join(err, serr)
		}
		return fmt.Errorf("read inventory of %s: %w", host.Name, err)
	}
	return w.hosts.StoreInventory(ctx, host.ID, toModel(inv))
}

func toModel(inv hypervisor.Inventory) compute.HostInventory {
	out := compute.HostInventory{
		Hostname: inv.Hostname, CPUs: inv.CPUs, CPUModel: inv.CPUModel,
		MemoryBytes: inv.MemoryBytes, FreeMemoryBytes: inv.FreeMemoryBytes,
		LibvirtVersion: inv.LibvirtVersion, HypervisorVersion: inv.HypervisorVersion,
	}
	for _, p := range inv.Pools {
		out.Pools = append(out.Pools, compute.HostPool{
			Name: p.Name, Active: p.Active, Path: p.Path,
			CapacityBytes: p.CapacityBytes, AllocationBytes: p.AllocationBytes, AvailableBytes: p.AvailableBytes,
		})
	}
	return out
}

// RefreshAllHostsWorker fans the periodic refresh out into one job per host.
type RefreshAllHostsWorker struct {
	river.WorkerDefaults[jobargs.RefreshAllHosts]
	hosts *compute.Hosts
}

func (w *RefreshAllHostsWorker) Work(ctx context.Context, _ *river.Job[jobargs.RefreshAllHosts]) error {
	return w.hosts.RequestRefreshAll(ctx)
}
