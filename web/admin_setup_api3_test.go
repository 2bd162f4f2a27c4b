package web_test

import (
	"net/http"
	"testing"

	"allmende/models/compute"
)

// The getting-started page's action through the API: a member is
// refused, an unknown host is a field error, an admin's request makes the
// starter plan and its three images (202, being built) and repeating it
// makes nothing new; GET shows the set on the host that has it.
func TestStarterSetUpAPI3(t *testing.T) {
	w := newVMWorld(t)
	var host compute.Host
	if err := w.d.db.Gorm.First(&host, "name = ?", "node-a").Error; err != nil {
		t.Fatal(err)
	}
	type starter struct {
		HostID string  `json:"host_id"`
		PlanID *string `json:"plan_id"`
		Images []struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		} `json:"images"`
		Started bool `json:"started"`
		Ready   bool `json:"ready"`
	}
	resp, body := w.admin.api(http.MethodGet, "/api/v1/admin/setup", w.adminToken)
	wantStatus(t, resp, http.StatusOK)
	if s := decode[starter](t, body); s.Started || s.PlanID != nil || len(s.Images) != 0 {
		t.Fatalf("starter before set-up: %s", body)
	}
	resp, _ = w.mia.api(http.MethodGet, "/api/v1/admin/setup", w.miaToken)
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(w.mia, http.MethodPost, "/api/v1/admin/setup", w.miaToken, `{"host_id":"`+host.ID+`"}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(w.admin, http.MethodPost, "/api/v1/admin/setup", w.adminToken, `{"host_id":"01a235c4-55b3-77ca-9175-3d3d0f56eda8"}`)
	wantFieldError(t, resp, body, "host_id")
	if n := w.d.count(t, "images", "name LIKE 'Starter (busybox)%'"); n != 0 {
		t.Fatalf("refused set-ups made %d images", n)
	}

	resp, body = apiJSON(w.admin, http.MethodPost, "/api/v1/admin/setup", w.adminToken, `{"host_id":"`+host.ID+`"}`)
	wantStatus(t, resp, http.StatusAccepted)
	first := decode[starter](t, body)
	if first.PlanID == nil || len(first.Images) != 3 || first.HostID != host.ID || first.Ready {
		t.Fatalf("starter after set-up: %s", body)
	}
	// Again: the same plan and images (the build job may have failed them
	// meanwhile, as no libvirt listens here: then they are built again).
	_, body = apiJSON(w.admin, http.MethodPost, "/api/v1/admin/setup", w.adminToken, `{"host_id":"`+host.ID+`"}`)
	again := decode[starter](t, body)
	if again.PlanID == nil || *again.PlanID != *first.PlanID || len(again.Images) != 3 || again.Images[2].ID != first.Images[2].ID {
		t.Errorf("set-up repeated: %s", body)
	}
	if n := w.d.count(t, "images", "name LIKE 'Starter (busybox)%'"); n != 3 {
		t.Errorf("starter images = %d, want 3", n)
	}
	resp, body = w.admin.api(http.MethodGet, "/api/v1/admin/setup", w.adminToken)
	wantStatus(t, resp, http.StatusOK)
	if s := decode[starter](t, body); !s.Started || s.HostID != host.ID || len(s.Images) != 3 {
		t.Errorf("starter read back: %s", body)
	}
}
