package handlers

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/compute"
	"allmende/views"
)

var networkFields = []string{"name", "libvirt_network", "bridge", "cidr", "gateway", "dns"}

// AdminNetworks lists the networks per host with the form for a new one.
func (h *Handler) AdminNetworks(c echo.Context) error {
	return h.renderAdminNetworks(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderAdminNetworks(c echo.Context, status int, f views.Form) error {
	ctx := c.Request().Context()
	hosts, err := h.Hosts.List(ctx)
	if err != nil {
		return err
	}
	nets, err := h.Networks.List(ctx, viewer(CurrentUser(c)), "")
	if err != nil {
		return err
	}
	p, err := h.page(c, "Networks", "networks")
	if err != nil {
		return err
	}
	return render(c, status, views.AdminNetworksPage(p, views.AdminNetworksData{Hosts: hosts, Networks: nets, Form: f}))
}

// networkInput reads the network form; DNS servers are separated by
// commas or spaces.
func networkInput(f views.Form) compute.NetworkInput {
	return compute.NetworkInput{
		HostID: f.Value("host_id"), Name: f.Value("name"),
		LibvirtNetwork: f.Value("libvirt_network"), Bridge: f.Value("bridge"),
		CIDR: f.Value("cidr"), Gateway: f.Value("gateway"),
		DNS: strings.FieldsFunc(f.Value("dns"), func(r rune) bool { return r == ',' || unicode.IsSpace(r) }),
	}
}

// AdminCreateNetwork adds a network to a host.
func (h *Handler) AdminCreateNetwork(c echo.Context) error {
	f := formOf(c, append([]string{"host_id"}, networkFields...)...)
	n, err := h.Networks.Create(c.Request().Context(), actor(c), viewer(CurrentUser(c)), networkInput(f))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderAdminNetworks(c, status, f)
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Network %s created.", n.Name), "/admin/networks")
}

// AdminEditNetwork shows the form to change a network.
func (h *Handler) AdminEditNetwork(c echo.Context) error {
	n, err := h.Networks.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	f := views.Form{Values: map[string]string{
		"name": n.Name, "libvirt_network": n.LibvirtNetwork, "bridge": n.Bridge,
		"cidr": n.CIDR, "gateway": n.Gateway, "dns": strings.Join(n.DNSServers(), ", "),
	}}
	return h.renderAdminNetworkEdit(c, http.StatusOK, n, f)
}

func (h *Handler) renderAdminNetworkEdit(c echo.Context, status int, n *compute.Network, f views.Form) error {
	host, err := h.catalogHost(c, n.HostID)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Edit network", "networks")
	if err != nil {
		return err
	}
	return render(c, status, views.AdminNetworkEditPage(p, n, host.Name, f))
}

// AdminUpdateNetwork changes a network; its host never changes.
func (h *Handler) AdminUpdateNetwork(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	n, err := h.Networks.Get(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	f := formOf(c, networkFields...)
	updated, err := h.Networks.Update(ctx, actor(c), v, n.ID, networkInput(f))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderAdminNetworkEdit(c, status, n, f)
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Network %s saved.", updated.Name), "/admin/networks")
}

// AdminDeleteNetwork removes a network in which no VM holds an address.
func (h *Handler) AdminDeleteNetwork(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	n, err := h.Networks.Get(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.Networks.Delete(ctx, actor(c), v, n.ID); err != nil {
		if _, ok := models.AsError(err); !ok {
			return err
		}
		return h.flashTo(c, "error", errText(c.Request().Context(), err), "/admin/networks")
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Network %s deleted.", n.Name), "/admin/networks")
}
