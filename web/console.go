package web

import (
	"context"
	"io"

	"allmende/hypervisor"
	"allmende/models"
	"allmende/models/compute"
)

// consoles opens serial consoles: the domain decides who may see which VM
// and where it runs, the hypervisor layer provides the stream. It lives
// here because web is the one layer that knows both.
type consoles struct {
	vms *compute.VMs
	hv  *hypervisor.Manager
}

func (c consoles) OpenConsole(ctx context.Context, v models.Viewer, vmID string) (io.ReadWriteCloser, error) {
	vm, err := c.vms.Get(ctx, v, vmID) // another member's VM is "not found"
	if err != nil {
		return nil, err
	}
	if vm.State != compute.VMRunning {
		return nil, models.Conflict("The console is available while the VM is running.")
	}
	job, err := c.vms.ForJob(ctx, vm.ID)
	if err != nil {
		return nil, err
	}
	return c.hv.OpenConsole(ctx, job.HostURI, job.DomainName)
}
