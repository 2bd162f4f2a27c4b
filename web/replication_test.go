package web_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/compute"
)

// replicatedWorld is vmWorld with a second host offering the image, and
// one VM of Mia's placed with a replica host.
func replicatedWorld(t *testing.T) (*vmWorld, vmJSON) {
	t.Helper()
	w := newVMWorld(t)
	ctx := context.Background()
	u, err := w.d.accounts.ByEmail(ctx, "admin@example.org")
	if err != nil {
		t.Fatal(err)
	}
	admin, av := models.Actor{UserID: u.ID, Email: u.Email}, models.Viewer{UserID: u.ID, Admin: true}
	hosts := compute.NewHosts(w.d.db, vmNoQueue{}, func(string) error { return nil })
	host, err := hosts.Add(ctx, admin, compute.HostInput{Name: "node-b", URI: "qemu+unix:///system?socket=" + filepath.Join(t.TempDir(), "no.sock")})
	if err != nil {
		t.Fatal(err)
	}
	if err := hosts.StoreInventory(ctx, host.ID, compute.HostInventory{Hostname: "node-b", CPUs: 8, MemoryBytes: 16 << 30,
		Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: 100 << 30}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := compute.NewImages(w.d.db, vmNoQueue{}).Register(ctx, admin, av, compute.ImageInput{Name: "debian-13",
		HostID: host.ID, Pool: "default", Volume: "debian-13.qcow2", Format: "qcow2", VirtualSizeBytes: 2 << 30}); err != nil {
		t.Fatal(err)
	}
	vm, _ := w.createVM(t, w.miaToken, "web")
	return w, vm
}

// A member sees the Replication section of their own VM and its API;
// another member gets 404 on both; admins see every VM's replication.
func TestReplicationPagesAndAPI(t *testing.T) {
	w, vm := replicatedWorld(t)
	standby := map[string]string{"node-a": "node-b", "node-b": "node-a"}[vm.HostName]
	resp, body := w.mia.get("/vms/" + vm.ID)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="vm-replication"`, "Standby host", standby, "Data-loss window", "first copy pending")

	resp, body = w.mia.api(http.MethodGet, "/api/v1/vms/"+vm.ID+"/replication", w.miaToken)
	wantStatus(t, resp, http.StatusOK)
	rep := decode[struct {
		Replicated  bool   `json:"replicated"`
		StandbyHost string `json:"standby_host"`
		Interval    int    `json:"interval_seconds"`
		Health      string `json:"health"`
	}](t, body)
	if !rep.Replicated || rep.StandbyHost != standby || rep.Interval != 300 || rep.Health != "first copy pending" {
		t.Fatalf("api: %s", body)
	}

	// The status partial (polled by htmx) carries the section too, and
	// knows who looks: the switchover button is for admins only.
	resp, body = w.mia.get("/vms/" + vm.ID + "/status")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="vm-replication"`)
	if err := w.d.db.Gorm.Exec("UPDATE vm_replicas SET state = 'good', last_good_at = ? WHERE vm_id = ?", time.Now().UTC(), vm.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := w.d.db.Gorm.Exec("UPDATE vms SET state = 'running' WHERE id = ?", vm.ID).Error; err != nil {
		t.Fatal(err)
	}
	_, body = w.mia.get("/vms/" + vm.ID + "/status")
	if strings.Contains(body, `id="vm-switchover"`) {
		t.Error("a member sees the switchover button")
	}
	resp, body = w.admin.get("/vms/" + vm.ID + "/status")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="vm-switchover"`)
	if err := w.d.db.Gorm.Exec("UPDATE vm_replicas SET state = 'none', last_good_at = NULL WHERE vm_id = ?", vm.ID).Error; err != nil {
		t.Fatal(err)
	}

	resp, _ = w.otto.get("/vms/" + vm.ID)
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = w.otto.api(http.MethodGet, "/api/v1/vms/"+vm.ID+"/replication", w.ottoToken)
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = w.admin.api(http.MethodGet, "/api/v1/vms/"+vm.ID+"/replication", w.adminToken)
	wantStatus(t, resp, http.StatusOK)

	resp, _ = w.mia.get("/admin/replication")
	if resp.StatusCode == http.StatusOK {
		t.Fatal("a member opened the admin replication page")
	}
	resp, body = w.admin.get("/admin/replication")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `data-vm="web"`, "mia@example.org", `id="replication-capacity"`, `data-host="node-a"`, `data-plan="small"`)
	// The admins' way there, and the dashboard's alert once a copy fails.
	_, body = w.admin.get("/")
	wantContains(t, body, `href="/admin/replication"`)
	if strings.Contains(body, "dashboard-replication-alert") {
		t.Error("dashboard alert without a failing copy")
	}
	if err := w.d.db.Gorm.Exec("UPDATE vm_replicas SET state = 'failed', consecutive_failures = 1, last_error = 'x' WHERE vm_id = ?", vm.ID).Error; err != nil {
		t.Fatal(err)
	}
	_, body = w.admin.get("/")
	wantContains(t, body, `id="dashboard-replication-alert"`, `href="/admin/replication?filter=failing">1 virtual machine failing</a>`)
	_, body = w.mia.get("/")
	if strings.Contains(body, "dashboard-replication-alert") {
		t.Error("a member sees the admins' replication alert")
	}
	resp, body = w.admin.get("/admin/replication?filter=lagging")
	wantStatus(t, resp, http.StatusOK)
	if strings.Contains(body, `data-vm="web"`) {
		t.Error("a fresh VM listed as lagging")
	}
}

// A bad replica host is a field error (422) and writes nothing; a good one
// is saved with an audit entry.
func TestReplicationAdminChangeHost(t *testing.T) {
	w, vm := replicatedWorld(t)
	var own, other compute.Host
	if err := w.d.db.Gorm.First(&own, "name = ?", vm.HostName).Error; err != nil {
		t.Fatal(err)
	}
	if err := w.d.db.Gorm.First(&other, "name <> ?", vm.HostName).Error; err != nil {
		t.Fatal(err)
	}
	audits := func() int64 {
		var n int64
		w.d.db.Gorm.Table("audit_events").Where("action = 'replication.set_host'").Count(&n)
		return n
	}
	for _, bad := range []string{own.ID, "not-a-host", ""} {
		resp, body := w.admin.submit("/admin/replication", "/admin/replication/vms/"+vm.ID+"/host", url.Values{"replica_host_id": {bad}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		wantContains(t, body, "field-error")
	}
	resp, _ := w.admin.submit("/admin/replication", "/admin/replication/vms/no-such-vm/host", url.Values{"replica_host_id": {other.ID}})
	wantStatus(t, resp, http.StatusNotFound)
	if n := audits(); n != 0 {
		t.Fatalf("refused changes audited: %d", n)
	}
	resp, _ = w.admin.submit("/admin/replication", "/admin/replication/plans/"+w.small.ID, url.Values{"interval_seconds": {"10"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	resp, _ = w.admin.submit("/admin/replication", "/admin/replication/plans/"+w.small.ID, url.Values{"interval_seconds": {"120"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body := w.mia.api(http.MethodGet, "/api/v1/vms/"+vm.ID+"/replication", w.miaToken)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"interval_seconds":120`)
}

// POST /api/v1/hosts/{id}/failover: admins only, refused (409) while the
// host answers, the confirmation checked by field (422), unknown fields
// refused (400); confirmed, a VM without a good copy is reported, not
// started (here: still being provisioned), and the fencing is audited
// with who confirmed it.
func TestFailoverAPI(t *testing.T) {
	w, vm := replicatedWorld(t)
	var host compute.Host
	if err := w.d.db.Gorm.First(&host, "name = ?", vm.HostName).Error; err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/hosts/" + host.ID + "/failover"
	confirm := `{"confirm":true,"host_name":"` + host.Name + `"}`
	resp, _ := apiJSON(w.mia, http.MethodPost, path, w.miaToken, confirm)
	wantStatus(t, resp, http.StatusForbidden)
	if err := w.d.db.Gorm.Exec("UPDATE hosts SET reachable = ? WHERE id = ?", true, host.ID).Error; err != nil {
		t.Fatal(err)
	}
	resp, body := apiJSON(w.admin, http.MethodPost, path, w.adminToken, confirm)
	wantAPIError(t, resp, body, http.StatusConflict, "conflict")
	if err := w.d.db.Gorm.Exec("UPDATE hosts SET reachable = ? WHERE id = ?", false, host.ID).Error; err != nil {
		t.Fatal(err)
	}
	resp, body = apiJSON(w.admin, http.MethodPost, path, w.adminToken, `{"confirm":false,"host_name":"other"}`)
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	if e := decodeAPIError(t, body); e.Fields["confirm"] == "" || e.Fields["host_name"] == "" {
		t.Errorf("fields: %s", body)
	}
	resp, _ = apiJSON(w.admin, http.MethodPost, path, w.adminToken, `{"confirm":true,"host_name":"`+host.Name+`","force":true}`)
	wantStatus(t, resp, http.StatusBadRequest)
	if n := w.d.count(t, "audit_events", "action = 'host.fenced'"); n != 0 {
		t.Fatalf("refused failovers audited: %d", n)
	}

	resp, body = apiJSON(w.admin, http.MethodPost, path, w.adminToken, confirm)
	wantStatus(t, resp, http.StatusAccepted)
	out := decode[struct {
		Host       string `json:"host"`
		Started    []struct{ ID string }
		NotStarted []struct{ ID, Reason string } `json:"not_started"`
	}](t, body)
	if out.Host != host.Name || len(out.Started) != 0 || len(out.NotStarted) != 1 || out.NotStarted[0].ID != vm.ID ||
		!strings.HasSuffix(out.NotStarted[0].Reason, "— not started") {
		t.Fatalf("failover answer: %s", body)
	}
	if n := w.d.count(t, "audit_events", "action = 'host.fenced' AND actor_email = ?", "admin@example.org"); n != 1 {
		t.Errorf("fencing audited %d times with the admin's email", n)
	}
}
