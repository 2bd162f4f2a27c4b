package web_test

import (
	"testing"

	"allmende/models/account"
)

// TestDashboardNeedsYouNow: the dashboard names what each person has to
// do, by role, and a person with nothing to do is told so.
func TestDashboardNeedsYouNow(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "board@example.org", account.RoleBoard)
	createUser(t, srv, "new@example.org")
	d := openDomain(t, cfg)
	d.apply(t, "applicant@example.org", "Ann Applicant", 2)

	newcomer := newClient(t, base)
	newcomer.login("new@example.org", "correct horse battery")
	_, body := newcomer.get("/")
	wantContains(t, body, `id="needs-you"`, `href="/membership/apply">Apply for membership</a>`)

	applicant := newClient(t, base)
	applicant.login("applicant@example.org", "correct horse battery")
	_, body = applicant.get("/")
	wantContains(t, body, "Your application waits for the board: 0 of")

	board := newClient(t, base)
	board.login("board@example.org", "correct horse battery")
	_, body = board.get("/")
	wantContains(t, body, `href="/board/applications">1 application waits for the board</a>`)

	// An admin of a portal without hosts, tasks or replication has
	// nothing to do and is told so.
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	admin := newClient(t, base)
	admin.login("admin@example.org", "correct horse battery")
	_, body = admin.get("/")
	wantContains(t, body, "Nothing needs you right now.")
}
