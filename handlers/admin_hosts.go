package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models/compute"
	"allmende/views"
)

// ShowHosts renders the admin's hosts page.
func (h *Handler) ShowHosts(c echo.Context) error {
	return h.renderHosts(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderHosts(c echo.Context, status int, f views.Form) error {
	p, err := h.page(c, "Hosts", "hosts")
	if err != nil {
		return err
	}
	hosts, err := h.Hosts.List(c.Request().Context())
	if err != nil {
		return err
	}
	return render(c, status, views.HostsPage(p, hosts, f))
}

// HostsTable is the htmx partial the hosts page polls while a refresh runs.
func (h *Handler) HostsTable(c echo.Context) error {
	p, err := h.page(c, "Hosts", "hosts")
	if err != nil {
		return err
	}
	hosts, err := h.Hosts.List(c.Request().Context())
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.HostsTable(p, hosts))
}

// AddHost registers a host and queues its first inventory read.
func (h *Handler) AddHost(c echo.Context) error {
	f := formOf(c, "name", "uri")
	host, err := h.Hosts.Add(c.Request().Context(), actor(c), compute.HostInput{Name: f.Value("name"), URI: f.Value("uri")})
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderHosts(c, status, f)
	}
	if err := h.Sessions.AddFlash(c, "success", "Host "+host.Name+" added; reading its inventory."); err != nil {
		return err
	}
	return redirect(c, "/admin/hosts")
}

// RefreshHost queues a fresh inventory read.
func (h *Handler) RefreshHost(c echo.Context) error {
	if err := h.Hosts.RequestRefresh(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	if err := h.Sessions.AddFlash(c, "info", "Refresh queued."); err != nil {
		return err
	}
	return redirect(c, "/admin/hosts")
}
