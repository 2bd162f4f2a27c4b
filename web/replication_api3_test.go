package web_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"allmende/models"
	"allmende/models/compute"
)

// The admins' replication page through the API: the state of every VM's
// copy with the N+1 table and the plans' intervals, a plan's interval set
// and returned to the rule, a VM's replica host moved to a third host.
// Members are refused, bad input is a field error that changes nothing.
func TestReplicationAdminAPI3(t *testing.T) {
	w, vm := replicatedWorld(t)
	ctx := context.Background()
	u, err := w.d.accounts.ByEmail(ctx, "admin@example.org")
	if err != nil {
		t.Fatal(err)
	}
	hosts := compute.NewHosts(w.d.db, vmNoQueue{}, func(string) error { return nil })
	third, err := hosts.Add(ctx, models.Actor{UserID: u.ID, Email: u.Email}, compute.HostInput{Name: "node-c",
		URI: "qemu+unix:///system?socket=" + filepath.Join(t.TempDir(), "no.sock")})
	if err != nil {
		t.Fatal(err)
	}
	if err := hosts.StoreInventory(ctx, third.ID, compute.HostInventory{Hostname: "node-c", CPUs: 8, MemoryBytes: 16 << 30,
		Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: 100 << 30}}}); err != nil {
		t.Fatal(err)
	}
	var own compute.Host
	if err := w.d.db.Gorm.First(&own, "name = ?", vm.HostName).Error; err != nil {
		t.Fatal(err)
	}
	type state struct {
		VMs []struct {
			VMID            string `json:"vm_id"`
			ReplicaHostName string `json:"replica_host_name"`
			Health          string `json:"health"`
			IntervalSeconds int    `json:"interval_seconds"`
		} `json:"vms"`
		Capacity []struct {
			HostName string `json:"host_name"`
		} `json:"capacity"`
		Plans []struct {
			PlanID          string `json:"plan_id"`
			IntervalSeconds *int   `json:"interval_seconds"`
		} `json:"plans"`
	}
	read := func() state {
		t.Helper()
		resp, body := w.admin.api(http.MethodGet, "/api/v1/admin/replication", w.adminToken)
		wantStatus(t, resp, http.StatusOK)
		return decode[state](t, body)
	}
	s := read()
	if len(s.VMs) != 1 || s.VMs[0].VMID != vm.ID || s.VMs[0].Health != "first copy pending" || s.VMs[0].IntervalSeconds != 300 || len(s.Capacity) == 0 {
		t.Fatalf("replication state: %+v", s)
	}
	resp, body := w.admin.api(http.MethodGet, "/api/v1/admin/replication?filter=failing", w.adminToken)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"vms":[]`)
	resp, _ = w.admin.api(http.MethodGet, "/api/v1/admin/replication?filter=broken", w.adminToken)
	wantStatus(t, resp, http.StatusBadRequest)
	resp, _ = w.mia.api(http.MethodGet, "/api/v1/admin/replication", w.miaToken)
	wantStatus(t, resp, http.StatusForbidden)

	// A plan's interval: out of bounds, a member, then set and back to the rule.
	interval := "/api/v1/plans/" + w.small.ID + "/replication-interval"
	resp, body = apiJSON(w.admin, http.MethodPut, interval, w.adminToken, `{"interval_seconds":10}`)
	wantFieldError(t, resp, body, "interval_seconds")
	resp, _ = apiJSON(w.mia, http.MethodPut, interval, w.miaToken, `{"interval_seconds":120}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(w.admin, http.MethodPut, "/api/v1/plans/01a235c4-55b3-77ca-9175-3d3d0f56eda8/replication-interval", w.adminToken, `{"interval_seconds":120}`)
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = apiJSON(w.admin, http.MethodPut, interval, w.adminToken, `{"interval_seconds":120}`)
	wantStatus(t, resp, http.StatusNoContent)
	planInterval := func() *int {
		for _, p := range read().Plans {
			if p.PlanID == w.small.ID {
				return p.IntervalSeconds
			}
		}
		t.Fatal("the small plan is not listed")
		return nil
	}
	if got := planInterval(); got == nil || *got != 120 {
		t.Fatalf("interval after setting = %v, want 120", got)
	}
	if s := read(); s.VMs[0].IntervalSeconds != 120 {
		t.Errorf("the VM's interval = %d, want the plan's 120", s.VMs[0].IntervalSeconds)
	}
	resp, _ = apiJSON(w.admin, http.MethodPut, interval, w.adminToken, `{"interval_seconds":null}`)
	wantStatus(t, resp, http.StatusNoContent)
	if got := planInterval(); got != nil {
		t.Errorf("interval after null = %d, want the rule (null)", *got)
	}

	// The replica host: the VM's own host and an unknown one are field
	// errors, a member is refused, the third host is taken.
	replica := "/api/v1/vms/" + vm.ID + "/replica-host"
	for _, bad := range []string{own.ID, "01a235c4-55b3-77ca-9175-3d3d0f56eda8"} {
		resp, body = apiJSON(w.admin, http.MethodPut, replica, w.adminToken, `{"replica_host_id":"`+bad+`"}`)
		wantFieldError(t, resp, body, "replica_host_id")
	}
	resp, _ = apiJSON(w.mia, http.MethodPut, replica, w.miaToken, `{"replica_host_id":"`+third.ID+`"}`)
	wantStatus(t, resp, http.StatusForbidden)
	if n := w.d.count(t, "audit_events", "action = 'replication.set_host'"); n != 0 {
		t.Fatalf("refused changes audited: %d", n)
	}
	resp, _ = apiJSON(w.admin, http.MethodPut, replica, w.adminToken, `{"replica_host_id":"`+third.ID+`"}`)
	wantStatus(t, resp, http.StatusNoContent)
	if s := read(); s.VMs[0].ReplicaHostName != "node-c" {
		t.Errorf("replica host after the change = %q, want node-c", s.VMs[0].ReplicaHostName)
	}
	if n := w.d.count(t, "audit_events", "action = 'replication.set_host'"); n != 1 {
		t.Errorf("audited changes = %d, want 1", n)
	}
}
