package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/compute"
	"allmende/views"
)

// vmFields are the single-valued inputs of the create form; the SSH keys
// are checkboxes of one name and are read with formList.
var vmFields = []string{"name", "plan_id", "image_id", "user_data"}

// ShowVMs lists the viewer's VMs, a page at a time and searchable;
// admins see everyone's.
func (h *Handler) ShowVMs(c echo.Context) error {
	l, err := h.listVMs(c)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Virtual machines", "vms")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.VMsPage(p, l))
}

// VMsTable is the htmx partial the list polls while a VM changes state.
func (h *Handler) VMsTable(c echo.Context) error {
	l, err := h.listVMs(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.VMsTable(l))
}

// ShowNewVM shows the create form with the first plan and image chosen and
// every key ticked: a VM without a key is reachable on its console only.
func (h *Handler) ShowNewVM(c echo.Context) error {
	d, err := h.newVMData(c.Request().Context(), viewer(CurrentUser(c)), nil)
	if err != nil {
		return err
	}
	f := views.Form{Values: map[string]string{}}
	if len(d.Plans) > 0 {
		f.Values["plan_id"] = d.Plans[0].ID
	}
	if len(d.Images) > 0 {
		f.Values["image_id"] = d.Images[0].ID
	}
	for _, k := range d.Keys {
		d.Chosen[k.ID] = true
	}
	return h.renderNewVM(c, http.StatusOK, d, f)
}

// newVMData loads what the create form offers; chosen are the ticked keys.
func (h *Handler) newVMData(ctx context.Context, v models.Viewer, chosen []string) (views.VMNew, error) {
	var d views.VMNew
	var err error
	if d.Plans, err = h.offeredPlans(ctx, v); err != nil {
		return d, err
	}
	images, err := h.Images.List(ctx, v)
	if err != nil {
		return d, err
	}
	// An image has a copy on each host that offers it; placement picks
	// the copy, so the member chooses by name only. Admins also list
	// images that are not ready, which nobody can create from.
	seen := map[string]bool{}
	for _, img := range images {
		if img.Status == compute.ImageReady && !seen[strings.ToLower(img.Name)] {
			seen[strings.ToLower(img.Name)] = true
			d.Images = append(d.Images, img)
		}
	}
	if d.Keys, err = h.SSHKeys.List(ctx, v); err != nil {
		return d, err
	}
	if d.Usage, err = h.VMs.Usage(ctx, v); err != nil {
		return d, err
	}
	d.Chosen = map[string]bool{}
	for _, id := range chosen {
		d.Chosen[id] = true
	}
	return d, nil
}

// offeredPlans are the plans a VM can be created with or resized to;
// admins also list retired plans, which the domain refuses.
func (h *Handler) offeredPlans(ctx context.Context, v models.Viewer) ([]compute.Plan, error) {
	plans, err := h.Plans.List(ctx, v)
	if err != nil {
		return nil, err
	}
	out := plans[:0]
	for _, p := range plans {
		if p.RetiredAt == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

func (h *Handler) renderNewVM(c echo.Context, status int, d views.VMNew, f views.Form) error {
	p, err := h.page(c, "New virtual machine", "vms")
	if err != nil {
		return err
	}
	return render(c, status, views.NewVMPage(p, d, f))
}

// CreateVM records a VM and queues its creation.
func (h *Handler) CreateVM(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	f := formOf(c, vmFields...)
	keys := formList(c, "ssh_key_ids")
	vm, _, err := h.VMs.Create(ctx, actor(c), v, compute.VMInput{Name: f.Value("name"), PlanID: f.Value("plan_id"),
		ImageID: f.Value("image_id"), SSHKeyIDs: keys, UserData: f.Value("user_data")})
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		d, derr := h.newVMData(ctx, v, keys)
		if derr != nil {
			return derr
		}
		return h.renderNewVM(c, status, d, f)
	}
	return h.flashTo(c, "success", i18n.T(ctx, "%s is being created.", vm.Name), "/vms/"+vm.ID)
}

// ShowVM is a VM's page.
func (h *Handler) ShowVM(c echo.Context) error {
	return h.renderVM(c, http.StatusOK, views.VMForms{})
}

// VMStatus is the htmx partial a VM's page polls while a task works on it.
func (h *Handler) VMStatus(c echo.Context) error {
	view, err := h.vmView(c, views.VMForms{})
	if err != nil {
		return err
	}
	view.Polled = true
	p, err := h.partialPage(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.VMStatus(p, view))
}

// partialPage is the layout data a partial needs: the CSRF token for its
// forms and who is looking (admins get more buttons). It leaves the flash
// messages for the next full page.
func (h *Handler) partialPage(c echo.Context) (views.Page, error) {
	csrf, err := h.Sessions.CSRFToken(c)
	if err != nil {
		return views.Page{}, err
	}
	return views.Page{CSRF: csrf, Viewer: pageViewer(c)}, nil
}

// vmView loads a VM's page; forms not given show the VM's current values.
func (h *Handler) vmView(c echo.Context, forms views.VMForms) (views.VMView, error) {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	d, err := h.VMs.Get(ctx, v, c.Param("id"))
	if err != nil {
		return views.VMView{}, err
	}
	plans, err := h.offeredPlans(ctx, v)
	if err != nil {
		return views.VMView{}, err
	}
	if forms.Resize.Values == nil {
		forms.Resize.Values = map[string]string{"plan_id": d.PlanID}
	}
	if forms.Timeout.Values == nil {
		forms.Timeout.Values = map[string]string{"shutdown_timeout": strconv.Itoa(d.ShutdownTimeoutSeconds)}
	}
	rep, err := h.vmReplication(ctx, v, d.ID)
	if err != nil {
		return views.VMView{}, err
	}
	return views.VMView{VM: d, Plans: plans, Forms: forms, ShowOwner: v.Admin, Replication: rep}, nil
}

func (h *Handler) renderVM(c echo.Context, status int, forms views.VMForms) error {
	view, err := h.vmView(c, forms)
	if err != nil {
		return err
	}
	p, err := h.page(c, view.VM.Name, "vms")
	if err != nil {
		return err
	}
	return render(c, status, views.VMPage(p, view))
}

// vmActionFunc is one of the VM actions without input.
type vmActionFunc func(ctx context.Context, a models.Actor, v models.Viewer, vmID string) (*compute.Task, error)

func (h *Handler) StartVM(c echo.Context) error {
	return h.vmAction(c, h.VMs.Start, i18n.T(c.Request().Context(), "The virtual machine is starting."))
}

func (h *Handler) ShutdownVM(c echo.Context) error {
	return h.vmAction(c, h.VMs.Shutdown, i18n.T(c.Request().Context(), "The virtual machine is shutting down."))
}

func (h *Handler) PowerOffVM(c echo.Context) error {
	return h.vmAction(c, h.VMs.PowerOff, i18n.T(c.Request().Context(), "The virtual machine is being powered off."))
}

func (h *Handler) RebootVM(c echo.Context) error {
	return h.vmAction(c, h.VMs.Reboot, i18n.T(c.Request().Context(), "The virtual machine is rebooting."))
}

func (h *Handler) ReprovisionVM(c echo.Context) error {
	return h.vmAction(c, h.VMs.Reprovision, i18n.T(c.Request().Context(), "The virtual machine is being provisioned again."))
}

// vmAction runs an action and returns to the VM's page, which follows the
// task, or to its console when pressed there (next); a refused action is a
// flash there.
func (h *Handler) vmAction(c echo.Context, act vmActionFunc, done string) error {
	back := "/vms/" + c.Param("id")
	if c.FormValue("next") == back+"/console" {
		back += "/console"
	}
	if _, err := act(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id")); err != nil {
		return h.refused(c, err, back)
	}
	return h.flashTo(c, "success", done, back)
}

// ResizeVM moves a VM to another plan.
func (h *Handler) ResizeVM(c echo.Context) error {
	f := formOf(c, "plan_id")
	_, err := h.VMs.Resize(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), f.Value("plan_id"))
	if err != nil {
		return h.vmFormFailed(c, err, f, func(fs *views.VMForms, f views.Form) { fs.Resize = f })
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "The virtual machine is being resized."), "/vms/"+c.Param("id"))
}

// SetVMShutdownTimeout changes how long a shutdown waits for the guest.
func (h *Handler) SetVMShutdownTimeout(c echo.Context) error {
	f := formOf(c, "shutdown_timeout")
	put := func(fs *views.VMForms, f views.Form) { fs.Timeout = f }
	// 32 bits: a longer number is a typo, and must not overflow a Duration.
	secs, perr := strconv.ParseInt(strings.TrimSpace(f.Value("shutdown_timeout")), 10, 32)
	if perr != nil {
		err := models.Invalid(map[string]string{"shutdown_timeout": i18n.T(c.Request().Context(), "Enter a whole number of seconds, 10 to 3600.")})
		return h.vmFormFailed(c, err, f, put)
	}
	err := h.VMs.SetShutdownTimeout(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), time.Duration(secs)*time.Second)
	if err != nil {
		return h.vmFormFailed(c, err, f, put)
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "A shutdown now waits %d s before powering off.", secs), "/vms/"+c.Param("id"))
}

// SetVMAutoRestart turns the automatic restart after an unexpected stop
// on ("on") or off ("off").
func (h *Handler) SetVMAutoRestart(c echo.Context) error {
	back := "/vms/" + c.Param("id")
	on, ok := map[string]bool{"on": true, "off": false}[c.FormValue("auto_restart")]
	if !ok {
		return h.refused(c, models.Invalid(map[string]string{"auto_restart": i18n.T(c.Request().Context(), "Choose on or off.")}), back)
	}
	if err := h.VMs.SetAutoRestart(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), on); err != nil {
		return h.refused(c, err, back)
	}
	done := i18n.T(c.Request().Context(), "The virtual machine is started again when it stops unexpectedly.")
	if !on {
		done = i18n.T(c.Request().Context(), "The virtual machine stays stopped when it stops unexpectedly.")
	}
	return h.flashTo(c, "success", done, back)
}

// DeleteVM deletes a VM once its name has been typed to confirm.
func (h *Handler) DeleteVM(c echo.Context) error {
	f := formOf(c, "confirm")
	_, err := h.VMs.Delete(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), f.Value("confirm"))
	if err != nil {
		return h.vmFormFailed(c, err, f, func(fs *views.VMForms, f views.Form) { fs.Delete = f })
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "The virtual machine is being deleted."), "/vms")
}

// vmFormFailed answers a refused form on a VM's page: a conflict with the
// VM's state is a flash on the page, bad input (or a full quota) shows the
// page again with the form marked and the typed values kept. Rendering the
// page loads the VM as the viewer, so another member's VM is a 404 here
// too, never a page.
func (h *Handler) vmFormFailed(c echo.Context, err error, f views.Form, put func(*views.VMForms, views.Form)) error {
	de, ok := models.AsError(err)
	if !ok || de.Code == http.StatusNotFound {
		return err
	}
	if de.Code == http.StatusConflict {
		return h.flashTo(c, "error", errText(c.Request().Context(), err), "/vms/"+c.Param("id"))
	}
	status, _ := formFailure(c.Request().Context(), err, &f)
	var forms views.VMForms
	put(&forms, f)
	return h.renderVM(c, status, forms)
}
