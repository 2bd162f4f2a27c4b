package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// No host with room is an expected condition, not a fault: the API says
// so with its own code and the reason, and the page shows it too.
func TestNoHostHasRoom(t *testing.T) {
	w := newVMWorld(t)
	if err := w.d.db.Gorm.Exec("UPDATE hosts SET memory_bytes = ?", int64(512<<20)).Error; err != nil {
		t.Fatal(err)
	}
	resp, body := apiJSON(w.mia, http.MethodPost, "/api/v1/vms", w.miaToken,
		fmt.Sprintf(`{"name":"roomless","plan_id":%q,"image_id":%q}`, w.small.ID, w.image.ID))
	wantAPIError(t, resp, body, http.StatusServiceUnavailable, "no_capacity")
	e := decodeAPIError(t, body)
	for _, want := range []string{"No host has room for this plan right now", "1024 MiB", "512 MiB"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
	if e.Fields["plan_id"] == "" {
		t.Errorf("no field message: %+v", e)
	}
	_, list := w.mia.api(http.MethodGet, "/api/v1/vms", w.miaToken)
	if strings.Contains(list, "roomless") {
		t.Errorf("a VM was stored: %s", list)
	}
}
