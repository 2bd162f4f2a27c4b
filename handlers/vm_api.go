package handlers

import (
	"context"
	"maps"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/compute"
)

// The JSON shapes of the VM API (handlers/openapi.json). Like the other API
// shapes they are spelled out, not derived from models.

type apiVM struct {
	ID                     string    `json:"id"`
	Name                   string    `json:"name"`
	OwnerID                string    `json:"owner_id"`
	OwnerEmail             string    `json:"owner_email"`
	State                  string    `json:"state"`
	StateReason            string    `json:"state_reason"`
	PlanID                 string    `json:"plan_id"`
	PlanName               string    `json:"plan_name"`
	VCPUs                  int       `json:"vcpus"`
	MemoryMiB              int       `json:"memory_mib"`
	DiskGiB                int       `json:"disk_gib"`
	ImageID                string    `json:"image_id"`
	ImageName              string    `json:"image_name"`
	HostID                 string    `json:"host_id"`
	HostName               string    `json:"host_name"`
	IPAddress              string    `json:"ip_address"`
	MAC                    string    `json:"mac"`
	ShutdownTimeoutSeconds int       `json:"shutdown_timeout_seconds"`
	ObservedState          string    `json:"observed_state"`
	StoppedUnexpectedly    bool      `json:"stopped_unexpectedly"`
	AutoRestart            bool      `json:"auto_restart"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

type apiVMNetwork struct {
	Name    string `json:"name"`
	CIDR    string `json:"cidr"`
	Gateway string `json:"gateway"`
}

// apiVMDetail is one VM with its network and its latest tasks.
type apiVMDetail struct {
	apiVM
	Network      *apiVMNetwork `json:"network"`
	ActiveTaskID *string       `json:"active_task_id"`
	Tasks        []apiTask     `json:"tasks"`
}

type apiTask struct {
	ID         string     `json:"id"`
	VMID       string     `json:"vm_id"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status"`
	StartedBy  string     `json:"started_by"`
	RetryOf    *string    `json:"retry_of"`
	Error      string     `json:"error"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

type apiLogLine struct {
	At   time.Time `json:"at"`
	Line string    `json:"line"`
}

// apiJob is a task with its VM's name and its log.
type apiJob struct {
	apiTask
	VMName string       `json:"vm_name"`
	Log    []apiLogLine `json:"log"`
}

type apiPlan struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	VCPUs     int    `json:"vcpus"`
	MemoryMiB int    `json:"memory_mib"`
	DiskGiB   int    `json:"disk_gib"`
	Retired   bool   `json:"retired"`
}

type apiImage struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	HostID           string `json:"host_id"`
	Format           string `json:"format"`
	VirtualSizeBytes int64  `json:"virtual_size_bytes"`
	Status           string `json:"status"`
	Kind             string `json:"kind"`
	Pool             string `json:"pool"`
	Retired          bool   `json:"retired"`
}

func toAPIImage(img *compute.Image) apiImage {
	return apiImage{ID: img.ID, Name: img.Name, HostID: img.HostID, Format: img.Format, VirtualSizeBytes: img.VirtualSizeBytes,
		Status: string(img.Status), Kind: string(img.Kind), Pool: img.Pool, Retired: img.RetiredAt != nil}
}

// apiCreateVM is the body of POST /api/v1/vms.
type apiCreateVM struct {
	Name      string   `json:"name"`
	PlanID    string   `json:"plan_id"`
	ImageID   string   `json:"image_id"`
	SSHKeyIDs []string `json:"ssh_key_ids"`
	UserData  string   `json:"user_data"`
}

// apiPatchVM is the body of PATCH /api/v1/vms/{id}; pointers tell a field
// left out from one set to its zero value.
type apiPatchVM struct {
	PlanID                 *string `json:"plan_id"`
	ShutdownTimeoutSeconds *int64  `json:"shutdown_timeout_seconds"`
	AutoRestart            *bool   `json:"auto_restart"`
}

type apiDeleteVM struct {
	Confirm string `json:"confirm"`
}

// apiVMAccepted answers requests that queued a task; VM is set where the
// request created or changed the VM itself.
type apiVMAccepted struct {
	VM   *apiVMDetail `json:"vm,omitempty"`
	Task *apiTask     `json:"task"`
}

func toAPIVM(s *compute.VMSummary) apiVM {
	return apiVM{ID: s.ID, Name: s.Name, OwnerID: s.OwnerID, OwnerEmail: s.OwnerEmail, State: string(s.State),
		StateReason: s.StateReason, PlanID: s.PlanID, PlanName: s.PlanName, VCPUs: s.VCPUs, MemoryMiB: s.MemoryMiB,
		DiskGiB: s.DiskGiB, ImageID: s.ImageID, ImageName: s.ImageName, HostID: s.HostID, HostName: s.HostName,
		IPAddress: s.IPAddress, MAC: s.MAC, ShutdownTimeoutSeconds: s.ShutdownTimeoutSeconds,
		ObservedState: string(s.ObservedState()), StoppedUnexpectedly: s.StoppedUnexpectedly(), AutoRestart: s.AutoRestart,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

func toAPIVMDetail(d *compute.VMDetail) *apiVMDetail {
	out := &apiVMDetail{apiVM: toAPIVM(&d.VMSummary), Tasks: make([]apiTask, 0, len(d.Tasks))}
	if d.NetworkName != "" {
		out.Network = &apiVMNetwork{Name: d.NetworkName, CIDR: d.CIDR, Gateway: d.Gateway}
	}
	if d.ActiveTask != nil {
		out.ActiveTaskID = &d.ActiveTask.ID
	}
	for i := range d.Tasks {
		out.Tasks = append(out.Tasks, toAPITask(&d.Tasks[i]))
	}
	return out
}

func toAPITask(t *compute.Task) apiTask {
	return apiTask{ID: t.ID, VMID: t.VMID, Kind: string(t.Kind), Status: string(t.Status), StartedBy: t.StartedBy,
		RetryOf: t.RetryOf, Error: t.Error, CreatedAt: t.CreatedAt, StartedAt: t.StartedAt, FinishedAt: t.FinishedAt}
}

// APIListVMs answers GET /api/v1/vms: the caller's VMs (admins: all), 50
// a page, searchable by ?q=; next_page is there while more follow.
func (h *Handler) APIListVMs(c echo.Context) error {
	l, err := h.listVMs(c)
	if err != nil {
		return err
	}
	out := make([]apiVM, 0, len(l.VMs))
	for i := range l.VMs {
		out = append(out, toAPIVM(&l.VMs[i]))
	}
	pg := l.Paging
	body := map[string]any{"vms": out, "page": pg.Page}
	if pg.Page < pg.Pages() {
		body["next_page"] = pg.Page + 1
	}
	return c.JSON(http.StatusOK, body)
}

// APICreateVM answers POST /api/v1/vms with 202: the VM exists and its
// creation is queued; GET /jobs/{task.id} follows it.
func (h *Handler) APICreateVM(c echo.Context) error {
	var in apiCreateVM
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	vm, task, err := h.VMs.Create(ctx, actor(c), v, compute.VMInput{Name: in.Name, PlanID: in.PlanID, ImageID: in.ImageID,
		SSHKeyIDs: in.SSHKeyIDs, UserData: in.UserData})
	if err != nil {
		return err
	}
	d, err := h.VMs.Get(ctx, v, vm.ID)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/vms/"+vm.ID)
	t := toAPITask(task)
	return c.JSON(http.StatusAccepted, apiVMAccepted{VM: toAPIVMDetail(d), Task: &t})
}

// APIGetVM answers GET /api/v1/vms/{id}.
func (h *Handler) APIGetVM(c echo.Context) error {
	d, err := h.VMs.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIVMDetail(d))
}

// APIPatchVM answers PATCH /api/v1/vms/{id}: a new shutdown timeout and
// the automatic restart setting take effect at once; a new plan is a
// resize task (202). The settings are set first: they cannot conflict with
// the VM's state, while a resize can.
func (h *Handler) APIPatchVM(c echo.Context) error {
	var in apiPatchVM
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.PlanID == nil && in.ShutdownTimeoutSeconds == nil && in.AutoRestart == nil {
		return models.Invalid(map[string]string{"plan_id": "Give plan_id, shutdown_timeout_seconds, auto_restart or several."})
	}
	ctx, v, id := c.Request().Context(), viewer(CurrentUser(c)), c.Param("id")
	if s := in.ShutdownTimeoutSeconds; s != nil {
		// Bounded before it becomes a Duration, which a huge number would overflow.
		timeout := time.Duration(min(max(*s, -1), 1<<31)) * time.Second
		if err := h.VMs.SetShutdownTimeout(ctx, actor(c), v, id, timeout); err != nil {
			return renameField(err, "shutdown_timeout", "shutdown_timeout_seconds")
		}
	}
	if in.AutoRestart != nil {
		if err := h.VMs.SetAutoRestart(ctx, actor(c), v, id, *in.AutoRestart); err != nil {
			return err
		}
	}
	var task *apiTask
	if in.PlanID != nil {
		t, err := h.VMs.Resize(ctx, actor(c), v, id, *in.PlanID)
		if err != nil {
			return err
		}
		at := toAPITask(t)
		task = &at
	}
	d, err := h.VMs.Get(ctx, v, id)
	if err != nil {
		return err
	}
	if task == nil {
		return c.JSON(http.StatusOK, apiVMAccepted{VM: toAPIVMDetail(d)})
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/jobs/"+task.ID)
	return c.JSON(http.StatusAccepted, apiVMAccepted{VM: toAPIVMDetail(d), Task: task})
}

// renameField reports a domain field under the name the API uses for it.
func renameField(err error, from, to string) error {
	de, ok := models.AsError(err)
	if !ok || de.Fields[from] == "" {
		return err
	}
	out := *de
	out.Fields = moveField(maps.Clone(de.Fields), from, to)
	return &out
}

// APIDeleteVM answers DELETE /api/v1/vms/{id}. The VM's name confirms it,
// as ?confirm=<name> or a JSON body {"confirm": "<name>"}.
func (h *Handler) APIDeleteVM(c echo.Context) error {
	confirm := c.QueryParam("confirm")
	if confirm == "" && c.Request().ContentLength != 0 {
		var in apiDeleteVM
		if err := bindJSON(c, &in); err != nil {
			return err
		}
		confirm = in.Confirm
	}
	t, err := h.VMs.Delete(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), confirm)
	return h.apiTaskAccepted(c, t, err)
}

func (h *Handler) APIStartVM(c echo.Context) error { return h.apiVMAction(c, h.VMs.Start) }

func (h *Handler) APIShutdownVM(c echo.Context) error { return h.apiVMAction(c, h.VMs.Shutdown) }

func (h *Handler) APIPowerOffVM(c echo.Context) error { return h.apiVMAction(c, h.VMs.PowerOff) }

func (h *Handler) APIRebootVM(c echo.Context) error { return h.apiVMAction(c, h.VMs.Reboot) }

func (h *Handler) APIReprovisionVM(c echo.Context) error { return h.apiVMAction(c, h.VMs.Reprovision) }

func (h *Handler) apiVMAction(c echo.Context, act func(context.Context, models.Actor, models.Viewer, string) (*compute.Task, error)) error {
	t, err := act(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"))
	return h.apiTaskAccepted(c, t, err)
}

// apiTaskAccepted answers an action with 202 and its task.
func (h *Handler) apiTaskAccepted(c echo.Context, t *compute.Task, err error) error {
	if err != nil {
		return err
	}
	at := toAPITask(t)
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/jobs/"+t.ID)
	return c.JSON(http.StatusAccepted, apiVMAccepted{Task: &at})
}

// APIGetJob answers GET /api/v1/jobs/{id}: a task with its log.
func (h *Handler) APIGetJob(c echo.Context) error {
	d, err := h.Tasks.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	out := apiJob{apiTask: toAPITask(&d.Task), VMName: d.VMName, Log: make([]apiLogLine, 0, len(d.Lines))}
	for _, l := range d.Lines {
		out.Log = append(out.Log, apiLogLine{At: l.At, Line: l.Line})
	}
	return c.JSON(http.StatusOK, out)
}

// APIPlans answers GET /api/v1/plans: the plans on offer (admins: all).
func (h *Handler) APIPlans(c echo.Context) error {
	plans, err := h.Plans.List(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	out := make([]apiPlan, 0, len(plans))
	for i := range plans {
		out = append(out, toAPIPlan(&plans[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"plans": out})
}

// APIImages answers GET /api/v1/images: the images ready to create VMs
// from (admins: all that are not retired).
func (h *Handler) APIImages(c echo.Context) error {
	images, err := h.Images.List(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	out := make([]apiImage, 0, len(images))
	for i := range images {
		out = append(out, toAPIImage(&images[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"images": out})
}
