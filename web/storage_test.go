package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/rulebook"
)

// A full database: every write answers 507 "storage full" in pages and the
// API, reading goes on, /readyz reports it; once there is room again,
// writes work and the portal is ready without a restart.
func TestStorageFull(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	mia := w.members["Mia"]
	id := propose(t, mia, "More cores", rulebook.RuleEntitlementVCPUs, "8")
	token := tokenFor(t, w.d, memberEmail("Mia"))
	motion := func(n int) (*http.Response, string) {
		return apiJSON(mia, http.MethodPost, "/api/v1/proposals", token,
			fmt.Sprintf(`{"kind":"motion","title":"Motion %d","reasoning":"%s"}`, n, strings.Repeat("Because. ", 50)))
	}
	ready := func(status int, storage string) {
		t.Helper()
		resp, body := mia.api(http.MethodGet, "/readyz", testMetricsToken)
		wantStatus(t, resp, status)
		wantContains(t, body, `"storage":"`+storage+`"`)
	}
	ready(http.StatusOK, "ok")

	// SQLite's page limit on the server's writer stands for a full disk.
	writer := w.srv.DB().SQL
	var pages int64
	if err := writer.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	var resp *http.Response
	var body string
	for n := 0; ; n++ {
		if resp, body = motion(n); resp.StatusCode != http.StatusCreated || n > 1000 {
			break
		}
	}
	wantAPIError(t, resp, body, http.StatusInsufficientStorage, "storage_full")
	if e := decodeAPIError(t, body); e.Message != models.StorageFullMessage {
		t.Errorf("message: %q", e.Message)
	}
	// A form keeps its input and says why. A small row may still fit in
	// the free room of a page its table already has (so may other writes
	// of the portal's own, such as a session's last-seen time): comment
	// until one no longer fits, as a member on a full disk would.
	page := "/proposals/" + id
	var before int64
	for n := 0; n < 1000; n++ {
		before = w.d.count(t, "proposal_comments", "")
		if resp, body = mia.submit(page, page+"/comments", url.Values{"text": {"Kept text"}}); resp.StatusCode != http.StatusSeeOther {
			break
		}
	}
	wantStatus(t, resp, http.StatusInsufficientStorage)
	wantContains(t, body, "Storage is full", "Kept text")
	if n := w.d.count(t, "proposal_comments", ""); n != before {
		t.Errorf("comments %d, want %d", n, before)
	}

	// Reading works.
	for _, path := range []string{"/", "/proposals", page, "/account"} {
		resp, _ = mia.get(path)
		wantStatus(t, resp, http.StatusOK)
	}
	resp, _ = mia.api(http.MethodGet, "/api/v1/proposals", token)
	wantStatus(t, resp, http.StatusOK)

	// /readyz: the reason for operators, only the status for everyone.
	ready(http.StatusServiceUnavailable, "full")
	resp, body = newClient(t, w.base).get("/readyz")
	wantStatus(t, resp, http.StatusServiceUnavailable)
	if strings.Contains(body, "storage") {
		t.Errorf("public readyz names the check: %s", body)
	}

	// Room again: ready, and writes work.
	if _, err := writer.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	ready(http.StatusOK, "ok")
	resp, _ = motion(-1)
	wantStatus(t, resp, http.StatusCreated)
	resp, _ = mia.submit(page, page+"/comments", url.Values{"text": {"Kept text"}})
	wantStatus(t, resp, http.StatusSeeOther)
}
