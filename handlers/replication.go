package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/replication"
	"allmende/views"
)

// vmReplication is a VM's replication for its page; nil where replication
// is not wired. The VM was found for the viewer already.
func (h *Handler) vmReplication(ctx context.Context, v models.Viewer, vmID string) (*replication.Status, error) {
	if h.Replicas == nil {
		return nil, nil
	}
	return h.Replicas.Get(ctx, v, vmID)
}

// apiReplication is GET /api/v1/vms/{id}/replication.
type apiReplication struct {
	VMID              string                  `json:"vm_id"`
	Replicated        bool                    `json:"replicated"`
	StandbyHost       string                  `json:"standby_host,omitempty"`
	State             string                  `json:"state,omitempty"`
	Health            string                  `json:"health"`
	LastGoodAt        *time.Time              `json:"last_good_at"`
	DataLossWindowSec int64                   `json:"data_loss_window_seconds"`
	IntervalSec       int64                   `json:"interval_seconds"`
	BytesLast         int64                   `json:"bytes_last"`
	LastError         string                  `json:"last_error,omitempty"`
	Failures          int                     `json:"consecutive_failures"`
	NextRunAt         *time.Time              `json:"next_run_at"`
	Runs              []apiReplicationRunView `json:"runs"`
}

type apiReplicationRunView struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	BytesSent  int64      `json:"bytes_sent"`
	DurationMS int64      `json:"duration_ms"`
	Verified   bool       `json:"verified"`
	Error      string     `json:"error,omitempty"`
}

// APIGetVMReplication answers GET /api/v1/vms/{id}/replication for the
// VM's owner and admins; anyone else gets 404.
func (h *Handler) APIGetVMReplication(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("virtual machine")
	}
	s, err := h.Replicas.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	out := apiReplication{VMID: s.VMID, Replicated: s.Replicated, StandbyHost: s.ReplicaHostName, State: string(s.State),
		Health: string(s.Health), LastGoodAt: s.LastGoodAt, DataLossWindowSec: int64(s.Lag.Seconds()),
		IntervalSec: int64(s.Interval.Seconds()), BytesLast: s.BytesLast, LastError: s.LastError, Failures: s.Failures,
		NextRunAt: s.NextRunAt, Runs: []apiReplicationRunView{}}
	for _, r := range s.Runs {
		out.Runs = append(out.Runs, apiReplicationRunView{ID: r.ID, Kind: r.Kind, StartedAt: r.StartedAt.UTC(), FinishedAt: r.FinishedAt,
			BytesSent: r.BytesSent, DurationMS: r.DurationMS, Verified: r.Succeeded(), Error: r.Error})
	}
	return c.JSON(http.StatusOK, out)
}

// AdminReplication lists every VM's copy, the N+1 table and the plans'
// intervals; ?filter=lagging|failing narrows the list.
func (h *Handler) AdminReplication(c echo.Context) error {
	return h.renderAdminReplication(c, http.StatusOK, nil, nil)
}

func (h *Handler) renderAdminReplication(c echo.Context, status int, hostForms, planForms map[string]views.Form) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	d := views.ReplicationAdmin{HostForms: hostForms, PlanForms: planForms}
	switch f := replication.Filter(c.QueryParam("filter")); f {
	case replication.FilterLagging, replication.FilterFailing:
		d.Filter = string(f)
	}
	var err error
	if d.VMs, err = h.Replicas.List(ctx, v, replication.Filter(d.Filter)); err != nil {
		return err
	}
	if d.Lagging, err = h.Replicas.List(ctx, v, replication.FilterLagging); err != nil {
		return err
	}
	if d.Hosts, err = h.Replicas.Hosts(ctx); err != nil {
		return err
	}
	if d.Capacity, err = h.Replicas.Capacity(ctx, v); err != nil {
		return err
	}
	if d.Plans, err = h.Replicas.PlanIntervals(ctx, v); err != nil {
		return err
	}
	p, err := h.page(c, "Replication", "replication")
	if err != nil {
		return err
	}
	return render(c, status, views.AdminReplicationPage(p, d))
}

// AdminSetReplicaHost changes a VM's replica host.
func (h *Handler) AdminSetReplicaHost(c echo.Context) error {
	vmID := c.Param("id")
	f := formOf(c, "replica_host_id")
	err := h.Replicas.SetReplicaHost(c.Request().Context(), actor(c), viewer(CurrentUser(c)), vmID, f.Value("replica_host_id"))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound || status == http.StatusForbidden {
			return err
		}
		return h.renderAdminReplication(c, status, map[string]views.Form{vmID: f}, nil)
	}
	return h.flashTo(c, "success", "Standby host changed; the next copy is a full one.", "/admin/replication")
}

// AdminSetPlanInterval sets a plan's replication interval; empty returns
// it to the rule.
func (h *Handler) AdminSetPlanInterval(c echo.Context) error {
	planID := c.Param("id")
	f := formOf(c, "interval_seconds")
	var secs *int64
	if raw := strings.TrimSpace(f.Value("interval_seconds")); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			f.Errors = map[string]string{"interval_seconds": "Enter a whole number of seconds."}
			return h.renderAdminReplication(c, http.StatusUnprocessableEntity, nil, map[string]views.Form{planID: f})
		}
		secs = &n
	}
	if err := h.Replicas.SetPlanInterval(c.Request().Context(), actor(c), viewer(CurrentUser(c)), planID, secs); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound || status == http.StatusForbidden {
			return err
		}
		return h.renderAdminReplication(c, status, nil, map[string]views.Form{planID: f})
	}
	return h.flashTo(c, "success", "Replication interval saved.", "/admin/replication")
}
