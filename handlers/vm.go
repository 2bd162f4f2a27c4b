package handlers

import (
	"context"
	"io"
	"time"

	"allmende/models"
)

// VMService is what the handlers need from models.VMs.
type VMService interface {
	Create(ctx context.Context, actor models.Actor, v models.Viewer, in models.VMInput) (*models.VM, *models.Task, error)
	Get(ctx context.Context, v models.Viewer, id string) (*models.VMDetail, error)
	List(ctx context.Context, v models.Viewer, f models.VMFilter) ([]models.VMSummary, error)
	Usage(ctx context.Context, v models.Viewer) (*models.VMUsage, error)
	Start(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*models.Task, error)
	Shutdown(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*models.Task, error)
	PowerOff(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*models.Task, error)
	Reboot(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*models.Task, error)
	Reprovision(ctx context.Context, actor models.Actor, v models.Viewer, vmID string) (*models.Task, error)
	Resize(ctx context.Context, actor models.Actor, v models.Viewer, vmID, planID string) (*models.Task, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, vmID, confirmName string) (*models.Task, error)
	SetShutdownTimeout(ctx context.Context, actor models.Actor, v models.Viewer, vmID string, timeout time.Duration) error
	Drift(ctx context.Context, v models.Viewer) (*models.DriftOverview, error)
}

// TaskService is what the handlers need from models.Tasks.
type TaskService interface {
	Get(ctx context.Context, v models.Viewer, id string) (*models.TaskDetail, error)
	List(ctx context.Context, v models.Viewer, f models.TaskFilter) ([]models.Task, error)
	Retry(ctx context.Context, actor models.Actor, v models.Viewer, taskID string) (*models.Task, error)
}

// PlanService is what the handlers need from models.Plans.
type PlanService interface {
	Create(ctx context.Context, actor models.Actor, v models.Viewer, in models.PlanInput) (*models.Plan, error)
	Update(ctx context.Context, actor models.Actor, v models.Viewer, id string, in models.PlanInput) (*models.Plan, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error
	Get(ctx context.Context, v models.Viewer, id string) (*models.Plan, error)
	List(ctx context.Context, v models.Viewer) ([]models.Plan, error)
}

// ImageService is what the handlers need from models.Images.
type ImageService interface {
	Register(ctx context.Context, actor models.Actor, v models.Viewer, in models.ImageInput) (*models.Image, error)
	BeginUpload(ctx context.Context, actor models.Actor, v models.Viewer, in models.UploadInput) (*models.Image, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error
	Get(ctx context.Context, v models.Viewer, id string) (*models.Image, error)
	List(ctx context.Context, v models.Viewer) ([]models.Image, error)
}

// NetworkService is what the handlers need from models.Networks.
type NetworkService interface {
	Create(ctx context.Context, actor models.Actor, v models.Viewer, in models.NetworkInput) (*models.Network, error)
	Update(ctx context.Context, actor models.Actor, v models.Viewer, id string, in models.NetworkInput) (*models.Network, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error
	Get(ctx context.Context, v models.Viewer, id string) (*models.Network, error)
	List(ctx context.Context, v models.Viewer, hostID string) ([]models.Network, error)
}

// SSHKeyService is what the handlers need from models.SSHKeys.
type SSHKeyService interface {
	Add(ctx context.Context, actor models.Actor, v models.Viewer, in models.SSHKeyInput) (*models.SSHKey, error)
	Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error
	Get(ctx context.Context, v models.Viewer, id string) (*models.SSHKey, error)
	List(ctx context.Context, v models.Viewer) ([]models.SSHKey, error)
	Rename(ctx context.Context, actor models.Actor, v models.Viewer, id, name string) error
}

// HostSettings is what the admin pages need to tune a host for VMs.
type HostSettings interface {
	VMSettings(ctx context.Context, hostID string) (*models.HostVMSettings, error)
	SetVMSettings(ctx context.Context, actor models.Actor, v models.Viewer, hostID string, in models.HostVMSettings) error
}

// ConsoleOpener opens the serial console of a VM the viewer may see; the
// web layer implements it with the domain (authorisation, host) and the
// hypervisor (the stream), so handlers never speak libvirt.
type ConsoleOpener interface {
	OpenConsole(ctx context.Context, v models.Viewer, vmID string) (io.ReadWriteCloser, error)
}

// viewer is the domain's view of who asks.
func viewer(u *models.User) models.Viewer {
	if u == nil {
		return models.Viewer{}
	}
	return models.Viewer{UserID: u.ID, Admin: u.Has(models.RoleAdmin)}
}
