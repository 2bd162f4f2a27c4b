package handlers

import (
	"context"
	"io"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
)

// VMService is what the handlers need from models.VMs.
type VMService interface {
	Create(ctx context.Context, actor models.Actor, v models.Viewer, in compute.VMInput) (*compute.VM, *compute.Task, error)
	Get(ctx context.Context, v models.Viewer, id string) (*compute.VMDetail, error)
	List(ctx context.Context, v models.Viewer, f compute.VMFilter) ([]compute.VMSummary, error)
	Usage(ctx context.Context, v models.Viewer) (*compute.VMUsage, error)
	Start(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*compute.Task, error)
	Shutdown(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*compute.Task, error)
	PowerOff(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*compute.Task, error)
	Reboot(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*compute.Task, error)
	Reprovision(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*compute.Task, error)
	Resize(ctx context.Context, actor models.Actor, v models.Viewer, vmID, planID string) (*compute.Task, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, vmID, confirmName string) (*compute.Task, error)
	SetShutdownTimeout(ctx context.Context, actor models.Actor, v models.Viewer, vmID string, timeout time.Duration) error
	Drift(ctx context.Context, v models.Viewer) (*compute.DriftOverview, error)
}

// TaskService is what the handlers need from models.Tasks.
type TaskService interface {
	Get(ctx context.Context, v models.Viewer, id string) (*compute.TaskDetail, error)
	List(ctx context.Context, v models.Viewer, f compute.TaskFilter) ([]compute.Task, error)
	Retry(ctx context.Context, actor models.Actor, v models.Viewer, taskID string) (*compute.Task, error)
}

// PlanService is what the handlers need from models.Plans.
type PlanService interface {
	Create(ctx context.Context, actor models.Actor, v models.Viewer, in compute.PlanInput) (*compute.Plan, error)
	Update(ctx context.Context, actor models.Actor, v models.Viewer, id string, in compute.PlanInput) (*compute.Plan, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error
	Get(ctx context.Context, v models.Viewer, id string) (*compute.Plan, error)
	List(ctx context.Context, v models.Viewer) ([]compute.Plan, error)
}

// ImageService is what the handlers need from models.Images.
type ImageService interface {
	Register(ctx context.Context, actor models.Actor, v models.Viewer, in compute.ImageInput) (*compute.Image, error)
	BeginUpload(ctx context.Context, actor models.Actor, v models.Viewer, in compute.UploadInput) (*compute.Image, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error
	Get(ctx context.Context, v models.Viewer, id string) (*compute.Image, error)
	List(ctx context.Context, v models.Viewer) ([]compute.Image, error)
}

// NetworkService is what the handlers need from models.Networks.
type NetworkService interface {
	Create(ctx context.Context, actor models.Actor, v models.Viewer, in compute.NetworkInput) (*compute.Network, error)
	Update(ctx context.Context, actor models.Actor, v models.Viewer, id string, in compute.NetworkInput) (*compute.Network, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error
	Get(ctx context.Context, v models.Viewer, id string) (*compute.Network, error)
	List(ctx context.Context, v models.Viewer, hostID string) ([]compute.Network, error)
}

// SSHKeyService is what the handlers need from models.SSHKeys.
type SSHKeyService interface {
	Add(ctx context.Context, actor models.Actor, v models.Viewer, in compute.SSHKeyInput) (*compute.SSHKey, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error
	Get(ctx context.Context, v models.Viewer, id string) (*compute.SSHKey, error)
	List(ctx context.Context, v models.Viewer) ([]compute.SSHKey, error)
	Rename(ctx context.Context, actor models.Actor, v models.Viewer, id, name string) error
}

// HostSettings is what the admin pages need to tune a host for VMs.
type HostSettings interface {
	VMSettings(ctx context.Context, hostID string) (*compute.HostVMSettings, error)
	SetVMSettings(ctx context.Context, actor models.Actor, v models.Viewer, hostID string, in compute.HostVMSettings) error
}

// ConsoleOpener opens the serial console of a VM the viewer may see; the
// web layer implements it with the domain (authorisation, host) and the
// hypervisor (the stream), so handlers never speak libvirt.
type ConsoleOpener interface {
	OpenConsole(ctx context.Context, v models.Viewer, vmID string) (io.ReadWriteCloser, error)
}

// viewer is the domain's view of who asks.
func viewer(u *account.User) models.Viewer {
	if u == nil {
		return models.Viewer{}
	}
	return models.Viewer{UserID: u.ID, Admin: u.Has(account.RoleAdmin)}
}
