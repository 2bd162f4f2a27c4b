package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	"allmende/models/account"
)

var (
	caseLinkRE   = regexp.MustCompile(`href="/moderation/cases/([^"]+)"`)
	caseRefRE    = regexp.MustCompile(`\bC-[0-9A-Z]+\b`)
	reportRefRE  = regexp.MustCompile(`\bR-[0-9A-Z]+\b`)
	sanctionIDRE = regexp.MustCompile(`id="sanction-([^"]+)"`)
)

// Every moderation page reads in German and in English: the abuse form,
// the member's report form and status, the queue, a case with a sanction,
// the sanction and its appeal form as the member concerned sees them, the
// appeals committee's list, the quarterly numbers, the motions to exclude
// and forms that come back with an error.
func TestModerationPagesInBothLanguages(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	createUser(t, srv, "admin@example.org", account.RoleAdmin, account.RoleBoard)
	createUser(t, srv, "rita@example.org", account.RoleMember)
	createUser(t, srv, "sam@example.org", account.RoleMember)
	createUser(t, srv, "judy@example.org", account.RoleMember)
	seatOnAppealsCommittee(t, d, "judy@example.org")
	login := func(email string) *client {
		c := newClient(t, base)
		wantStatus(t, c.login(email, "correct horse battery"), http.StatusSeeOther)
		return c
	}
	admin, rita, sam, judy := login("admin@example.org"), login("rita@example.org"), login("sam@example.org"), login("judy@example.org")
	anonymous := newClient(t, base)

	// Rita reports Sam; the moderator applies a sanction with an end.
	resp, _ := rita.submit("/report", "/report", url.Values{"target_kind": {"member"}, "target": {"sam@example.org"},
		"category": {"conduct"}, "evidence": {"Test insults in the comments"}})
	wantStatus(t, resp, http.StatusSeeOther)
	statusPath := resp.Header.Get("Location")
	_, body := admin.get("/moderation")
	m := caseLinkRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no case in the queue:\n%s", body)
	}
	casePath := "/moderation/cases/" + m[1]
	resp, body = admin.submit(casePath, casePath+"/sanction", url.Values{"kind": {"suspend_member"}, "reason": {"Test reason"}, "days": {"7"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sanction: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = admin.submit(casePath, casePath+"/note", url.Values{"body": {"Test note"}})
	wantStatus(t, resp, http.StatusSeeOther)

	_, body = admin.get(casePath)
	wantContains(t, body, `data-kind="suspend_member" data-state="active"`, "Test note")
	// The case log the portal stored in English reads in German; the
	// moderator's note stays as written, marked as data.
	req, _ := http.NewRequest(http.MethodGet, base+casePath, nil)
	req.Header.Set("Accept-Language", "de")
	_, de := admin.do(req)
	wantContains(t, de, `<span translate="yes">Sperre der Ressourcennutzung verhängt (Stufe 4) von admin@example.org, bis `, `<span translate="no">Test note</span>`)
	wantContains(t, body, `<span translate="yes">suspend_member applied (step 4) by admin@example.org, until `)
	same := append(caseRefRE.FindAllString(body, -1), reportRefRE.FindAllString(body, -1)...)
	same = append(same, "Test rita@example.org", "Test sam@example.org", "Test admin@example.org")

	// As the member concerned: the sanction with its appeal form, then
	// the appeal filed.
	checkBothLanguages(t, sam, base, "/sanctions", same...)
	_, body = sam.get("/sanctions")
	wantContains(t, body, `name="statement"`)
	s := sanctionIDRE.FindStringSubmatch(body)
	if s == nil {
		t.Fatalf("no sanction on the member's page:\n%s", body)
	}
	postBothLanguages(t, sam, sam.base, "/sanctions", "/sanctions/"+s[1]+"/appeal", 0, url.Values{"statement": {""}}, same...)
	resp, _ = sam.submit("/sanctions", "/sanctions/"+s[1]+"/appeal", url.Values{"statement": {"Test statement"}})
	wantStatus(t, resp, http.StatusSeeOther)
	checkBothLanguages(t, sam, base, "/sanctions", same...)
	checkBothLanguages(t, sam, base, "/transparency", same...)

	// As the reporter.
	for _, p := range []string{"/report", statusPath} {
		checkBothLanguages(t, rita, base, p, same...)
	}
	postBothLanguages(t, rita, rita.base, "/report", "/report", 0, url.Values{"target_kind": {"member"}, "target": {"nobody@example.org"},
		"category": {"bogus"}, "evidence": {""}}, same...)

	// As the moderator (an administrator).
	for _, p := range []string{"/moderation", "/moderation?state=all", casePath, "/board/motions", "/transparency"} {
		checkBothLanguages(t, admin, base, p, same...)
	}
	postBothLanguages(t, admin, admin.base, casePath, casePath+"/dismiss", 0, url.Values{"as": {"dismiss"}, "reason_close": {""}}, same...)
	postBothLanguages(t, admin, admin.base, casePath, casePath+"/sanction", 0, url.Values{"kind": {"warning"}, "reason": {""}, "days": {"x"}}, same...)

	// As the appeals committee.
	_, body = judy.get("/appeals")
	wantContains(t, body, `data-state="pending"`, `name="outcome"`)
	checkBothLanguages(t, judy, base, "/appeals", same...)

	// The public abuse form, and with an error.
	checkBothLanguages(t, anonymous, base, "/abuse")
	postBothLanguages(t, anonymous, anonymous.base, "/abuse", "/abuse", 0, url.Values{"ip": {"192.0.2.44"},
		"seen_at": {time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")}, "category": {"spam"}, "evidence": {"x"}})
}

// seatOnAppealsCommittee gives an account a membership and a seat on the
// elected appeals committee, as an election would.
func seatOnAppealsCommittee(t *testing.T, d *domain, email string) {
	t.Helper()
	var userID string
	if err := d.db.Gorm.Raw("SELECT id FROM users WHERE email = ?", email).Scan(&userID).Error; err != nil || userID == "" {
		t.Fatalf("user %s: %v", email, err)
	}
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	mid := uuid.Must(uuid.NewV7()).String()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO memberships (id, user_id, status, person_kind, legal_name, street, postal_code, city, country,
			shares_applied, bylaws_version, bylaws_accepted_at, declaration, applied_at, admitted_on, created_at, updated_at)
			VALUES (?, ?, 'member', 'natural', 'Test judy', 'Hauptstraße 1', '10115', 'Berlin', 'DE', 1, '2026-1', ?, 'x', ?, ?, ?, ?)`,
			[]any{mid, userID, now, now, today, now, now}},
		{`INSERT INTO appointments (id, organ, user_id, membership_id, term_start, term_end, source, body, decided_on, recorded_by, recorded_at)
			VALUES (?, 'appeals_committee', ?, ?, ?, ?, 'election', 'general_assembly', ?, 'test', ?)`,
			[]any{uuid.Must(uuid.NewV7()).String(), userID, mid, today.AddDate(0, 0, -1), today.AddDate(2, 0, 0), today, now}},
	} {
		if err := d.db.Gorm.Exec(q.sql, q.args...).Error; err != nil {
			t.Fatal(err)
		}
	}
}
