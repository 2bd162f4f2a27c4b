package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/rulebook"
)

// TestOrgansPages: the board records an election on /board/organs; the
// elected member gets the supervisory role and the page, a plain member
// gets neither, and unknown paths stay 404 for members.
func TestOrgansPages(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	ctx := context.Background()
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	annaU, _ := d.accounts.ByEmail(ctx, "anna@board.example")
	board := models.Actor{UserID: annaU.ID, Email: annaU.Email}
	if err := d.rules.Set(ctx, board, rulebook.RuleAdmissionApprovals, "1", time.Now().Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	id := d.apply(t, "sue@example.org", "Sue Pervisor", 1)
	if _, err := d.members.Approve(ctx, board, id); err != nil {
		t.Fatal(err)
	}
	sueU, _ := d.accounts.ByEmail(ctx, "sue@example.org")
	anna, sue := newClient(t, base), newClient(t, base)
	anna.login("anna@board.example", "correct horse battery")
	sue.login("sue@example.org", "correct horse battery")

	resp, _ := sue.get("/board/organs")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = sue.get("/no/such/page")
	wantStatus(t, resp, http.StatusNotFound)

	resp, body := anna.get("/board/organs")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Board role by an administrator", "Test anna@board.example")
	today := time.Now().UTC().Format("2006-01-02")
	form := url.Values{"organ": {"supervisory_board"}, "user": {sueU.ID}, "by": {"election"}, "decided_on": {today},
		"term_start": {today}, "term_end": {"2031-06-30"}, "reference": {"General assembly 2026"}}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("term_end", "not a day")
	resp, body = anna.submit("/board/organs", "/board/organs/appoint", bad)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a date as YYYY-MM-DD.")
	resp, _ = anna.submit("/board/organs", "/board/organs/appoint", form)
	wantStatus(t, resp, http.StatusSeeOther)

	// Sue's next request shows the new role: the nav link and the page.
	resp, body = sue.get("/board/organs")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `href="/board/organs"`, "Sue Pervisor")
	// Elected to the board as well: refused, the seats are incompatible.
	form.Set("organ", "board")
	resp, body = anna.submit("/board/organs", "/board/organs/appoint", form)
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "incompatible")

	// The board records that she resigned before taking office; the role
	// goes with the seat.
	_, body = anna.get("/board/organs")
	end := regexp.MustCompile(`action="(/board/organs/[^"]+/end)"`).FindStringSubmatch(body)
	if end == nil {
		t.Fatal("no End button for the seat")
	}
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	resp, _ = anna.submit("/board/organs", end[1], url.Values{"last_day": {yesterday}, "reason": {"resigned"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if u, _ := d.accounts.ByEmail(ctx, "sue@example.org"); u.Has(account.RoleSupervisory) {
		t.Error("the supervisory role outlived the seat")
	}
	resp, _ = sue.get("/board/organs")
	wantStatus(t, resp, http.StatusForbidden)
}
