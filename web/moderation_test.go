package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"allmende/models/account"
	"allmende/models/modelstest"
)

// The moderation pages and API: who may see what, bad input refused with a
// clear message and nothing written, reporters never told who the member
// is, the subject sees the sanction and its evidence but not the reporter.
func TestModerationHTTP(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	createUser(t, srv, "mo@example.org", account.RoleModerator)
	createUser(t, srv, "rita@example.org", account.RoleMember)
	createUser(t, srv, "sam@example.org", account.RoleMember)
	createUser(t, srv, "otto@example.org", account.RoleMember)
	mo, rita, sam := tokenFor(t, d, "mo@example.org"), tokenFor(t, d, "rita@example.org"), tokenFor(t, d, "sam@example.org")

	// The public form and JSON endpoint refuse bad input clearly, write nothing.
	anon := newClient(t, base)
	resp, body := anon.get("/abuse")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Report abuse", `name="seen_at"`)
	before := modelstest.Snapshot(t, d.db)
	seen := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	resp, body = anon.submit("/abuse", "/abuse", url.Values{"ip": {"192.0.2.44"}, "seen_at": {seen}, "category": {"spam"}, "evidence": {"x"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "No virtual machine of this cooperative held this address at that time")
	for _, c := range []struct{ body, want string }{
		{`{"ip":"192.0.2.44","seen_at":"` + time.Now().UTC().Add(time.Hour).Format(time.RFC3339) + `","category":"spam","evidence":"x"}`, "future"},
		{`{"ip":"192.0.2.44","seen_at":"` + seen + `","category":"phishing","evidence":"x"}`, "Choose a category"},
		{`{"ip":"192.0.2.44","seen_at":"` + seen + `","category":"spam","evidence":"` + strings.Repeat("x", 10001) + `"}`, "too long"},
		{`{"ip":"not-an-ip","seen_at":"` + seen + `","category":"spam","evidence":"x"}`, "offending IP address"},
	} {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/abuse-reports", strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		resp, body := anon.do(req)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, c.want) {
			t.Errorf("%.60s: %d %s", c.body, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/abuse-reports", strings.NewReader(`{"ip":"192.0.2.44","bogus":1}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, _ := anon.do(req); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown field: %d", resp.StatusCode)
	}
	modelstest.SameSnapshot(t, d.db, before, "refused abuse reports")

	// A member reports another member's conduct through the page.
	rc := newClient(t, base)
	wantStatus(t, rc.login("rita@example.org", "correct horse battery"), http.StatusSeeOther)
	resp, body = rc.submit("/report", "/report", url.Values{"target_kind": {"member"}, "target": {"nobody@example.org"}, "category": {"conduct"}, "evidence": {"x"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "No member has this email address")
	resp, _ = rc.submit("/report", "/report", url.Values{"target_kind": {"member"}, "target": {"sam@example.org"}, "category": {"conduct"},
		"evidence": {"insults in the comments of the budget proposal"}})
	wantStatus(t, resp, http.StatusSeeOther)
	statusPath := resp.Header.Get("Location")
	if !strings.HasPrefix(statusPath, "/reports/R-") {
		t.Fatalf("after reporting: %s", statusPath)
	}
	resp, body = rc.get(statusPath)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `data-status="received"`)
	if strings.Contains(body, "sam@example.org") || strings.Contains(body, "Test sam") {
		t.Error("the status page names the member")
	}
	// Nobody else sees a member's report.
	if resp, _ := anon.get(statusPath); resp.StatusCode != http.StatusNotFound {
		t.Errorf("anonymous status of a member's report: %d", resp.StatusCode)
	}

	// Members have no panel; the moderator has.
	for _, p := range []string{"/api/v1/moderation/cases", "/api/v1/appeals"} {
		if resp, _ := rc.api(http.MethodGet, p, rita); resp.StatusCode != http.StatusForbidden {
			t.Errorf("member GET %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := rc.get("/moderation"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("member /moderation: %d", resp.StatusCode)
	}
	resp, body = rc.api(http.MethodGet, "/api/v1/moderation/cases", mo)
	wantStatus(t, resp, http.StatusOK)
	var list struct {
		Cases []struct {
			ID, Ref string
		} `json:"cases"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Cases) != 1 {
		t.Fatalf("cases: %s", body)
	}
	caseID := list.Cases[0].ID
	resp, body = apiJSON(rc, http.MethodPost, "/api/v1/moderation/cases/"+caseID+"/sanctions", mo, `{"kind":"throttle","reason":"x"}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity) // a member case has no VM
	wantContains(t, body, "virtual machine")
	resp, _ = apiJSON(rc, http.MethodPost, "/api/v1/moderation/cases/"+caseID+"/sanctions", rita, `{"kind":"warning","reason":"x"}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(rc, http.MethodPost, "/api/v1/moderation/cases/"+caseID+"/sanctions", mo, `{"kind":"warning","reason":"Please keep the comments civil."}`)
	wantStatus(t, resp, http.StatusCreated)
	var s struct{ ID string }
	_ = json.Unmarshal([]byte(body), &s)

	// The subject sees the sanction with the evidence, never the reporter.
	resp, body = rc.api(http.MethodGet, "/api/v1/sanctions", sam)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "insults in the comments", "keep the comments civil", "moderation_ladder step 1")
	if strings.Contains(body, "rita") {
		t.Errorf("the subject learns the reporter: %s", body)
	}
	// Others see none of it and cannot appeal it.
	resp, body = rc.api(http.MethodGet, "/api/v1/sanctions", rita)
	wantStatus(t, resp, http.StatusOK)
	if strings.Contains(body, s.ID) {
		t.Error("the reporter sees the subject's sanction")
	}
	resp, _ = apiJSON(rc, http.MethodPost, "/api/v1/sanctions/"+s.ID+"/appeal", rita, `{"statement":"x"}`)
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = apiJSON(rc, http.MethodPost, "/api/v1/sanctions/"+s.ID+"/appeal", sam, `{"statement":"I was quoting"}`)
	wantStatus(t, resp, http.StatusCreated)
	resp, _ = apiJSON(rc, http.MethodPost, "/api/v1/sanctions/"+s.ID+"/appeal", sam, `{"statement":"again"}`)
	wantStatus(t, resp, http.StatusConflict)
	// The reporter's status says action was taken, nothing more.
	resp, body = rc.get(statusPath)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `data-status="action_taken"`)
	// The quarterly numbers, for members.
	resp, body = rc.get("/transparency")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Conduct in the portal: 1", "1 warning: 1")
	if strings.Contains(body, "next quarter") || strings.Contains(body, "previous quarter") {
		t.Error("the only quarter with numbers links to others")
	}
	resp, _ = rc.api(http.MethodGet, "/api/v1/moderation/report?quarter=7", rita)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	// A quarter before the first numbers: the page says which there are.
	resp, body = rc.get("/transparency?year=1999&quarter=4")
	wantStatus(t, resp, http.StatusNotFound)
	wantContains(t, body, "There are no numbers for 1999 Q4: the report covers", `href="/transparency"`)
	resp, body = rc.api(http.MethodGet, "/api/v1/moderation/report?year=1999&quarter=4", rita)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "There are no numbers for 1999 Q4")
}

// The panel's forms: a note, an assignment, a dismissal without a reason
// (the form comes back with the message, nothing changes) and with one;
// the reporter's status follows.
func TestModerationPanelPages(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "mo@example.org", account.RoleModerator)
	createUser(t, srv, "rita@example.org", account.RoleMember)
	createUser(t, srv, "sam@example.org", account.RoleMember)
	rc := newClient(t, base)
	wantStatus(t, rc.login("rita@example.org", "correct horse battery"), http.StatusSeeOther)
	resp, _ := rc.submit("/report", "/report", url.Values{"target_kind": {"member"}, "target": {"sam@example.org"}, "category": {"conduct"}, "evidence": {"spam in my inbox"}})
	wantStatus(t, resp, http.StatusSeeOther)
	statusPath := resp.Header.Get("Location")

	mc := newClient(t, base)
	wantStatus(t, mc.login("mo@example.org", "correct horse battery"), http.StatusSeeOther)
	resp, body := mc.get("/moderation?state=open&category=conduct&target_kind=member")
	wantStatus(t, resp, http.StatusOK)
	m := regexp.MustCompile(`href="/moderation/cases/([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no case in the queue:\n%s", body)
	}
	casePath := "/moderation/cases/" + m[1]
	resp, body = mc.get("/moderation?age=abc")
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter the minimum age in whole days.")

	resp, _ = mc.submit(casePath, casePath+"/note", url.Values{"body": {"asked sam for a statement"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = mc.submit(casePath, casePath+"/assign", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = mc.submit(casePath, casePath+"/dismiss", url.Values{"as": {"dismiss"}, "reason_close": {""}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Give the reason.", `id="case-state"`)
	_, body = rc.get(statusPath)
	wantContains(t, body, `data-status="in_review"`)
	resp, body = mc.submit(casePath, casePath+"/sanction", url.Values{"kind": {"warning"}, "reason": {""}, "days": {"x"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a whole number of days")
	resp, _ = mc.submit(casePath, casePath+"/dismiss", url.Values{"as": {"dismiss"}, "reason_close": {"a newsletter sam subscribed rita to, by mistake"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = mc.get(casePath)
	wantContains(t, body, "closed dismissed", "asked sam for a statement")
	_, body = rc.get(statusPath)
	wantContains(t, body, `data-status="closed_no_action"`)
	// The member concerned cannot open the case.
	sc := newClient(t, base)
	wantStatus(t, sc.login("sam@example.org", "correct horse battery"), http.StatusSeeOther)
	if resp, _ := sc.get(casePath); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the member concerned opened the case: %d", resp.StatusCode)
	}
}
