package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/replication"
)

// The admins' replication page in the API: every VM's copy, the N+1
// table and the plans' intervals; a plan's interval and a VM's replica
// host are set as on the page, by the same domain calls.

type apiReplicaVM struct {
	VMID              string     `json:"vm_id"`
	VMName            string     `json:"vm_name"`
	OwnerEmail        string     `json:"owner_email"`
	PlanID            string     `json:"plan_id"`
	PrimaryHostID     string     `json:"primary_host_id"`
	PrimaryHostName   string     `json:"primary_host_name"`
	Replicated        bool       `json:"replicated"`
	ReplicaHostID     string     `json:"replica_host_id"`
	ReplicaHostName   string     `json:"replica_host_name"`
	State             string     `json:"state"`
	Health            string     `json:"health"`
	Lagging           bool       `json:"lagging"`
	Paused            bool       `json:"paused"`
	LastGoodAt        *time.Time `json:"last_good_at"`
	NextRunAt         *time.Time `json:"next_run_at"`
	DataLossWindowSec int64      `json:"data_loss_window_seconds"`
	IntervalSec       int64      `json:"interval_seconds"`
	Failures          int        `json:"consecutive_failures"`
	LastError         string     `json:"last_error"`
}

type apiPartnerCapacity struct {
	HostID    string `json:"host_id"`
	HostName  string `json:"host_name"`
	VMs       int    `json:"vms"`
	VCPUs     int64  `json:"vcpus"`
	MemoryMiB int64  `json:"memory_mib"`
	FreeVCPUs int64  `json:"free_vcpus"`
	FreeMiB   int64  `json:"free_memory_mib"`
	CanAbsorb bool   `json:"can_absorb"`
}

type apiHostCapacity struct {
	HostID       string               `json:"host_id"`
	HostName     string               `json:"host_name"`
	VMs          int                  `json:"vms"`
	VCPUs        int64                `json:"vcpus"`
	MemoryMiB    int64                `json:"memory_mib"`
	Unreplicated int                  `json:"unreplicated"`
	CanAbsorb    bool                 `json:"can_absorb"`
	Partners     []apiPartnerCapacity `json:"partners"`
}

type apiPlanInterval struct {
	PlanID          string `json:"plan_id"`
	PlanName        string `json:"plan_name"`
	IntervalSeconds *int64 `json:"interval_seconds"`
}

// APIReplication answers GET /api/v1/admin/replication (admins): the
// replication page's VMs (?filter=lagging|failing narrows them), its N+1
// table and the plans' intervals (null: the members' rule).
func (h *Handler) APIReplication(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("replication")
	}
	f := replication.Filter(c.QueryParam("filter"))
	switch f {
	case replication.FilterAll, replication.FilterLagging, replication.FilterFailing:
	default:
		return models.BadQuery("filter", "Filter by lagging or failing, or not at all.")
	}
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	vms, err := h.Replicas.List(ctx, v, f)
	if err != nil {
		return err
	}
	capacity, err := h.Replicas.Capacity(ctx, v)
	if err != nil {
		return err
	}
	plans, err := h.Replicas.PlanIntervals(ctx, v)
	if err != nil {
		return err
	}
	out := struct {
		VMs      []apiReplicaVM    `json:"vms"`
		Capacity []apiHostCapacity `json:"capacity"`
		Plans    []apiPlanInterval `json:"plans"`
	}{[]apiReplicaVM{}, []apiHostCapacity{}, []apiPlanInterval{}}
	for _, s := range vms {
		out.VMs = append(out.VMs, apiReplicaVM{VMID: s.VMID, VMName: s.VMName, OwnerEmail: s.OwnerEmail, PlanID: s.PlanID,
			PrimaryHostID: s.PrimaryHostID, PrimaryHostName: s.PrimaryHostName, Replicated: s.Replicated,
			ReplicaHostID: s.ReplicaHostID, ReplicaHostName: s.ReplicaHostName, State: string(s.State), Health: string(s.Health),
			Lagging: s.Lagging(), Paused: s.Paused, LastGoodAt: s.LastGoodAt, NextRunAt: s.NextRunAt,
			DataLossWindowSec: int64(s.Lag.Seconds()), IntervalSec: int64(s.Interval.Seconds()), Failures: s.Failures, LastError: s.LastError})
	}
	for _, hc := range capacity {
		row := apiHostCapacity{HostID: hc.HostID, HostName: hc.HostName, VMs: hc.VMs, VCPUs: hc.VCPUs, MemoryMiB: hc.MemoryMiB,
			Unreplicated: hc.Unreplicated, CanAbsorb: hc.CanAbsorb, Partners: []apiPartnerCapacity{}}
		for _, p := range hc.Partners {
			row.Partners = append(row.Partners, apiPartnerCapacity{HostID: p.HostID, HostName: p.HostName, VMs: p.VMs, VCPUs: p.VCPUs,
				MemoryMiB: p.MemoryMiB, FreeVCPUs: p.FreeVCPUs, FreeMiB: p.FreeMiB, CanAbsorb: p.CanAbsorb})
		}
		out.Capacity = append(out.Capacity, row)
	}
	for _, p := range plans {
		out.Plans = append(out.Plans, apiPlanInterval{PlanID: p.PlanID, PlanName: p.PlanName, IntervalSeconds: p.Seconds})
	}
	return c.JSON(http.StatusOK, out)
}

// APISetPlanInterval answers PUT /api/v1/plans/{id}/replication-interval
// (admins): interval_seconds, or null for the members' rule.
func (h *Handler) APISetPlanInterval(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("plan")
	}
	var in struct {
		IntervalSeconds *int64 `json:"interval_seconds"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := h.Replicas.SetPlanInterval(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), in.IntervalSeconds); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APISetReplicaHost answers PUT /api/v1/vms/{id}/replica-host (admins):
// the VM's standby host; the next copy is a full one.
func (h *Handler) APISetReplicaHost(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("virtual machine")
	}
	var in struct {
		ReplicaHostID string `json:"replica_host_id"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := h.Replicas.SetReplicaHost(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), in.ReplicaHostID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
