package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models/account"
	"allmende/models/replication"
	"allmende/views"
)

// Home shows the dashboard, or sends anonymous visitors to log in.
func (h *Handler) Home(c echo.Context) error {
	u := CurrentUser(c)
	if u == nil {
		return redirect(c, "/login")
	}
	p, err := h.page(c, "Dashboard", "dashboard")
	if err != nil {
		return err
	}
	d := views.Dashboard{}
	for _, r := range u.Roles {
		d.Roles = append(d.Roles, string(r))
	}
	if u.Has(account.RoleAdmin) {
		hosts, err := h.Hosts.List(c.Request().Context())
		if err != nil {
			return err
		}
		if d.FirstRun, err = h.Starter.FirstRunNeeded(c.Request().Context()); err != nil {
			return err
		}
		if h.Replicas != nil {
			all, err := h.Replicas.List(c.Request().Context(), viewer(u), replication.FilterAll)
			if err != nil {
				return err
			}
			for _, s := range all {
				switch {
				case s.Health == replication.HealthFailing:
					d.ReplicationFailing++
				case s.Lagging():
					d.ReplicationLagging++
				}
			}
		}
		d.HostsTotal = len(hosts)
		for _, host := range hosts {
			if host.Reachable {
				d.HostsUp++
			}
		}
	}
	return render(c, http.StatusOK, views.DashboardPage(p, d))
}
