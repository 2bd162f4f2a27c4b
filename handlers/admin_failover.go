package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/replication"
	"allmende/views"
)

// AdminFailover is a host's failover page: its VMs with their last good
// copy and standby host, and the fencing confirmation.
func (h *Handler) AdminFailover(c echo.Context) error {
	return h.renderFailover(c, http.StatusOK, views.Form{}, nil)
}

func (h *Handler) renderFailover(c echo.Context, status int, f views.Form, res *replication.FailoverResult) error {
	if h.Replicas == nil {
		return models.NotFoundError("host")
	}
	p, err := h.page(c, "Failover", "hosts")
	if err != nil {
		return err
	}
	fp, err := h.Replicas.FailoverOverview(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return render(c, status, views.FailoverPage(p, views.Failover{Page: fp, Form: f, Result: res, FenceCommand: h.FenceCommand}))
}

// AdminConfirmFailover fences the host on the admin's word and starts its
// VMs that have a good copy on their standby hosts.
func (h *Handler) AdminConfirmFailover(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("host")
	}
	f := formOf(c, "confirm", "host_name")
	res, err := h.Replicas.Failover(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), replication.FailoverInput{
		Confirmed: f.Value("confirm") != "", HostName: f.Value("host_name"), Method: replication.FenceConfirmed})
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderFailover(c, status, f, nil)
	}
	msg := i18n.T(c.Request().Context(), "Host %s is fenced: %d virtual machine(s) are being started on their standby hosts, %d not started.",
		res.Host.Name, len(res.Started), len(res.NotStarted))
	if err := h.Sessions.AddFlash(c, "success", msg); err != nil {
		return err
	}
	return redirect(c, "/admin/hosts/"+res.Host.ID+"/failover")
}

// AdminRunFence queues the configured fence command against the host; the
// job fails the host over when it succeeds.
func (h *Handler) AdminRunFence(c echo.Context) error {
	if h.Replicas == nil || !h.FenceCommand {
		return models.NotFoundError("fence command")
	}
	id := c.Param("id")
	if err := h.Replicas.RequestFence(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		f := views.Form{}
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderFailover(c, status, f, nil)
	}
	if err := h.Sessions.AddFlash(c, "info", "Fence command queued; the host is failed over when it succeeds."); err != nil {
		return err
	}
	return redirect(c, "/admin/hosts/"+id+"/failover")
}

// failoverRequest is the body of POST /api/v1/hosts/{id}/failover: the
// same confirmation the page asks for.
type failoverRequest struct {
	Confirm  bool   `json:"confirm"`   // the host is powered off or cut off
	HostName string `json:"host_name"` // typed again, as on the page
}

type failoverVM struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Standby string `json:"standby,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

type failoverResponse struct {
	Host       string       `json:"host"`
	Started    []failoverVM `json:"started"`
	NotStarted []failoverVM `json:"not_started"`
}

// APIFailover answers POST /api/v1/hosts/{id}/failover (admins): fence a
// host that does not answer on the caller's confirmation and start its VMs
// that have a good copy on their standby hosts; 202 with what was started
// and what was not, and why.
func (h *Handler) APIFailover(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("host")
	}
	var body failoverRequest
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	res, err := h.Replicas.Failover(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), replication.FailoverInput{
		Confirmed: body.Confirm, HostName: body.HostName, Method: replication.FenceConfirmed})
	if err != nil {
		return err
	}
	out := failoverResponse{Host: res.Host.Name, Started: []failoverVM{}, NotStarted: []failoverVM{}}
	for _, v := range res.Started {
		out.Started = append(out.Started, failoverVM{ID: v.VMID, Name: v.VMName, Standby: v.Standby()})
	}
	for _, v := range res.NotStarted {
		out.NotStarted = append(out.NotStarted, failoverVM{ID: v.VMID, Name: v.VMName, Standby: v.Standby(), Reason: v.Reason})
	}
	return c.JSON(http.StatusAccepted, out)
}
