package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/compute"
	"allmende/views"
)

// catalogHost finds one host; HostService has no Get, and the list is short.
func (h *Handler) catalogHost(c echo.Context, id string) (*compute.Host, error) {
	hosts, err := h.Hosts.List(c.Request().Context())
	if err != nil {
		return nil, err
	}
	for i := range hosts {
		if hosts[i].ID == id {
			return &hosts[i], nil
		}
	}
	return nil, models.NotFoundError("host")
}

// AdminHostSettings shows a host's VM settings: overcommit and domain type.
func (h *Handler) AdminHostSettings(c echo.Context) error {
	host, err := h.catalogHost(c, c.Param("id"))
	if err != nil {
		return err
	}
	s, err := h.HostSettings.VMSettings(c.Request().Context(), host.ID)
	if err != nil {
		return err
	}
	f := views.Form{Values: map[string]string{
		"cpu_overcommit_percent":    strconv.Itoa(s.CPUOvercommitPercent),
		"memory_overcommit_percent": strconv.Itoa(s.MemoryOvercommitPercent),
		"domain_type":               s.DomainType,
	}}
	return h.renderAdminHostSettings(c, http.StatusOK, host, s, f)
}

func (h *Handler) renderAdminHostSettings(c echo.Context, status int, host *compute.Host, s *compute.HostVMSettings, f views.Form) error {
	p, err := h.page(c, i18n.T(c.Request().Context(), "VM settings of %s", host.Name), "hosts")
	if err != nil {
		return err
	}
	return render(c, status, views.AdminHostSettingsPage(p, host, s, f))
}

// AdminSaveHostSettings changes a host's VM settings.
func (h *Handler) AdminSaveHostSettings(c echo.Context) error {
	ctx := c.Request().Context()
	host, err := h.catalogHost(c, c.Param("id"))
	if err != nil {
		return err
	}
	current, err := h.HostSettings.VMSettings(ctx, host.ID)
	if err != nil {
		return err
	}
	f := formOf(c, "cpu_overcommit_percent", "memory_overcommit_percent", "domain_type")
	in := compute.HostVMSettings{DomainType: f.Value("domain_type")}
	if strings.EqualFold(strings.TrimSpace(in.DomainType), "auto") {
		in.DomainType = ""
	}
	if !catalogInts(&f, map[string]*int{"cpu_overcommit_percent": &in.CPUOvercommitPercent,
		"memory_overcommit_percent": &in.MemoryOvercommitPercent}) {
		return h.renderAdminHostSettings(c, http.StatusUnprocessableEntity, host, current, f)
	}
	if err := h.HostSettings.SetVMSettings(ctx, actor(c), viewer(CurrentUser(c)), host.ID, in); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderAdminHostSettings(c, status, host, current, f)
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "VM settings of %s saved.", host.Name), "/admin/hosts/"+host.ID+"/settings")
}
