package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models/compute"
)

// The first-run set-up in the API: the starter plan and images an admin
// makes on a host from the getting-started page, and how far they are.

type apiStarterImage struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

type apiStarter struct {
	HostID  string            `json:"host_id"`
	PlanID  *string           `json:"plan_id"`
	Images  []apiStarterImage `json:"images"`
	Started bool              `json:"started"`
	Ready   bool              `json:"ready"`
	Failed  bool              `json:"failed"`
}

func toAPIStarter(set *compute.StarterSet) apiStarter {
	out := apiStarter{Images: []apiStarterImage{}, Started: set.Started(), Ready: set.Ready(), Failed: set.Failed()}
	if set.Plan != nil {
		out.PlanID = &set.Plan.ID
	}
	for _, img := range set.Images() {
		if img == nil {
			continue
		}
		out.HostID = img.HostID
		out.Images = append(out.Images, apiStarterImage{ID: img.ID, Name: img.Name, Kind: string(img.Kind), Status: string(img.Status), Error: img.Error})
	}
	return out
}

// APIStarter answers GET /api/v1/admin/setup (admins): the starter set on
// ?host_id, or on the host that has it.
func (h *Handler) APIStarter(c echo.Context) error {
	set, err := h.Starter.Get(c.Request().Context(), viewer(CurrentUser(c)), c.QueryParam("host_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIStarter(set))
}

// APICreateStarter answers POST /api/v1/admin/setup (admins): makes the
// starter plan and images on the host where missing and queues their
// build — 202 while they are being made, 200 when all was there already.
// Repeating it changes nothing; failed images are built again.
func (h *Handler) APICreateStarter(c echo.Context) error {
	var in struct {
		HostID string `json:"host_id"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	set, err := h.Starter.Create(c.Request().Context(), actor(c), viewer(CurrentUser(c)), in.HostID)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if set.Ready() || !set.Changed {
		status = http.StatusOK
	}
	return c.JSON(status, toAPIStarter(set))
}
