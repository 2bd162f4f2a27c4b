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

// running finds where the viewer's running VM is; another member's VM is
// "not found", a VM that is not running a conflict.
func (c consoles) running(ctx context.Context, v models.Viewer, vmID string) (*compute.VMJobView, error) {
	vm, err := c.vms.Get(ctx, v, vmID)
	if err != nil {
		return nil, err
	}
	if vm.State != compute.VMRunning {
		return nil, models.Conflict("The console is available while the VM is running.")
	}
	return c.vms.ForJob(ctx, vm.ID)
}

func (c consoles) OpenConsole(ctx context.Context, v models.Viewer, vmID string) (io.ReadWriteCloser, error) {
	job, err := c.running(ctx, v, vmID)
	if err != nil {
		return nil, err
	}
	return c.hv.OpenConsole(ctx, job.HostURI, job.DomainName)
}

// SendCtrlAltDel presses the keys on the VM's keyboard. Like typing on its
// console it acts at once and is no task: the guest decides what to do.
func (c consoles) SendCtrlAltDel(ctx context.Context, v models.Viewer, vmID string) error {
	job, err := c.running(ctx, v, vmID)
	if err != nil {
		return err
	}
	return c.hv.SendCtrlAltDel(ctx, job.HostURI, job.DomainName)
}
