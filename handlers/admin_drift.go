package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/views"
)

// AdminDrift shows what the reconciler found: missing VMs and open reports
// of state mismatches and unknown domains.
func (h *Handler) AdminDrift(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := h.VMs.Drift(ctx, viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	hosts, err := h.Hosts.List(ctx)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Drift", "drift")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AdminDriftPage(p, o, hosts))
}
