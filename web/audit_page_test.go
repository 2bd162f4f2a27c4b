package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"allmende/models/account"
)

// TestAuditLogPage: the audit log filters by text, actor, action and a
// range of days, folds each entry's details away, goes page by page, marks
// a bad day at its field, and reads in German too.
func TestAuditLogPage(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	for _, e := range []string{"ada@example.org", "bob@example.org", "cy@example.org"} {
		createUser(t, srv, e, account.RoleMember)
	}
	admin := newClient(t, base)
	admin.login("admin@example.org", "correct horse battery")

	_, body := admin.get("/admin/audit?action=user.register&per_page=2")
	wantContains(t, body, "1–2 of 4", "page 1 of 2", `rel="next"`, `<details class="audit-detail">`, `<summary translate="yes">Details</summary>`,
		`<option value="user.register">`, `title="Everything about this target"`)
	_, body = admin.get("/admin/audit?action=user.register&per_page=2&page=2")
	wantContains(t, body, "3–4 of 4", `rel="prev"`)
	wantNotContains(t, body, `rel="next"`)

	_, body = admin.get("/admin/audit?q=" + url.QueryEscape("bob@example"))
	wantContains(t, body, "bob@example.org")
	wantNotContains(t, body, "cy@example.org")

	today := time.Now().UTC().Format(time.DateOnly)
	_, body = admin.get("/admin/audit?action=user.register&from=" + today + "&until=" + today)
	wantContains(t, body, "of 4")
	tomorrow := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)
	_, body = admin.get("/admin/audit?from=" + tomorrow)
	wantContains(t, body, "No entries match.")

	resp, body := admin.get("/admin/audit?from=yesterday")
	wantStatus(t, resp, http.StatusBadRequest)
	wantContains(t, body, `aria-invalid="true"`, "Enter a date as YYYY-MM-DD.", `value="yesterday"`)

	req, _ := http.NewRequest(http.MethodGet, base+"/admin/audit?action=user.register&per_page=2", nil)
	req.Header.Set("Accept-Language", "de")
	_, body = admin.do(req)
	if !strings.Contains(body, "Seite 1 von 2") || !strings.Contains(body, "Einzelheiten") || !strings.Contains(body, "Wer (E-Mail enthält)") {
		t.Error("the audit log is not German for a German reader")
	}
}
