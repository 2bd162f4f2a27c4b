package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models/account"
	"allmende/views"
)

// ShowDemands lists the members' demands for an extraordinary assembly
// (§45(1) GenG) with the form to file one.
func (h *Handler) ShowDemands(c echo.Context) error {
	return h.renderDemands(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderDemands(c echo.Context, status int, f views.Form) error {
	u := CurrentUser(c)
	ds, err := h.Governance.Demands(c.Request().Context(), viewer(u))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Demands for an assembly", "assemblies")
	if err != nil {
		return err
	}
	return render(c, status, views.DemandsPage(p, ds, f, u.Has(account.RoleBoard)))
}

// CreateDemand files a demand; the author supports it.
func (h *Handler) CreateDemand(c echo.Context) error {
	f := formOf(c, "purpose", "reasons")
	d, err := h.Governance.DemandAssembly(c.Request().Context(), actor(c), viewer(CurrentUser(c)), f.Value("purpose"), f.Value("reasons"))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderDemands(c, status, f)
	}
	return h.flashTo(c, "success", "Your demand is filed. Other members can now support it.", "/demands/"+d.ID)
}

// ShowDemand is one demand with its support.
func (h *Handler) ShowDemand(c echo.Context) error {
	return h.renderDemand(c, http.StatusOK, "")
}

func (h *Handler) renderDemand(c echo.Context, status int, msg string) error {
	u := CurrentUser(c)
	d, err := h.Governance.Demand(c.Request().Context(), viewer(u), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.page(c, d.Purpose, "assemblies")
	if err != nil {
		return err
	}
	return render(c, status, views.DemandPage(p, d, u.Has(account.RoleBoard), msg))
}

// SupportDemand adds the viewer's support.
func (h *Handler) SupportDemand(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.SupportDemand(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &views.Form{})
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderDemand(c, status, errText(c.Request().Context(), err))
	}
	return h.flashTo(c, "success", "You support this demand.", "/demands/"+id)
}
