package handlers

import (
	"allmende/models/compute"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// apiUser is the JSON shape of an account; field names are part of the API
// contract, so they are spelled out rather than derived from models.
type apiUser struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
}

// APIMe answers GET /api/v1/me.
func (h *Handler) APIMe(c echo.Context) error {
	u := CurrentUser(c)
	out := apiUser{ID: u.ID, Email: u.Email, Name: u.Name, Roles: []string{}, CreatedAt: u.CreatedAt}
	for _, r := range u.Roles {
		out.Roles = append(out.Roles, string(r))
	}
	return c.JSON(http.StatusOK, out)
}

type apiHost struct {
	ID                string             `json:"id"`
	Name              string             `json:"name"`
	URI               string             `json:"uri"`
	Role              string             `json:"role"`
	Reachable         bool               `json:"reachable"`
	LastError         string             `json:"last_error,omitempty"`
	RefreshedAt       *time.Time         `json:"refreshed_at"`
	Hostname          string             `json:"hostname"`
	CPUs              int64              `json:"cpus"`
	CPUModel          string             `json:"cpu_model"`
	MemoryBytes       int64              `json:"memory_bytes"`
	FreeMemoryBytes   int64              `json:"free_memory_bytes"`
	LibvirtVersion    string             `json:"libvirt_version"`
	HypervisorVersion string             `json:"qemu_version"`
	Pools             []compute.HostPool `json:"pools"`
}

// APIHosts answers GET /api/v1/hosts (admins).
func (h *Handler) APIHosts(c echo.Context) error {
	hosts, err := h.Hosts.List(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiHost, 0, len(hosts))
	for i := range hosts {
		out = append(out, toAPIHost(&hosts[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"hosts": out})
}

func toAPIHost(host *compute.Host) apiHost {
	pools := host.PoolList()
	if pools == nil {
		pools = []compute.HostPool{}
	}
	return apiHost{
		ID: host.ID, Name: host.Name, URI: host.URI, Role: host.Role, Reachable: host.Reachable,
		LastError: host.LastError, RefreshedAt: host.RefreshedAt, Hostname: host.Hostname, CPUs: host.CPUs,
		CPUModel: host.CPUModel, MemoryBytes: host.MemoryBytes, FreeMemoryBytes: host.FreeMemoryBytes,
		LibvirtVersion: host.LibvirtVersion, HypervisorVersion: host.HypervisorVersion, Pools: pools,
	}
}
