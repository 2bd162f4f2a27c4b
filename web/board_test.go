package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"allmende/jobs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/models/rulebook"
	"allmende/web"
)

// domain opens the server's database beside it, as the CLI would, to set
// up applications without going through the member pages.
type domain struct {
	db       *models.DB
	accounts *account.Accounts
	members  *membership.Memberships
	rules    *rulebook.Rules
}

func openDomain(t *testing.T, cfg *web.Config) *domain {
	t.Helper()
	db, err := models.Open(cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := jobs.NewInsertOnly(db, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	rules := rulebook.NewRules(db, models.SystemClock{})
	return &domain{db: db, accounts: account.NewAccounts(db), rules: rules,
		members: membership.NewMemberships(db, q, rules, models.SystemClock{})}
}

// apply registers an account and files an application for it.
func (d *domain) apply(t *testing.T, email, name string, shares int) string {
	t.Helper()
	ctx := context.Background()
	u, err := d.accounts.Register(ctx, models.SystemActor("test"),
		account.RegisterInput{Email: email, Name: name, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.rules.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.members.Apply(ctx, models.Actor{UserID: u.ID, Email: u.Email}, u.ID, membership.ApplicationInput{
		PersonKind: membership.PersonNatural, LegalName: name, Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin",
		Country: "DE", Shares: shares, AcceptBylaws: true, BylawsVersion: p.BylawsVersion, AcknowledgeNoticePeriod: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func (d *domain) count(t *testing.T, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	q := "SELECT COUNT(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	if err := d.db.Gorm.Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// waitForMail waits until the outbox holds a mail to `to` whose text
// contains subject, written by the server's mail worker.
func waitForMail(t *testing.T, cfg *web.Config, to, subject string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(cfg.DataDir, "outbox", "*.eml"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), to) && strings.Contains(string(b), subject) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no mail to %s with %q arrived in the outbox", to, subject)
}

func TestBoardAdmitsWithTwoApprovals(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	id := d.apply(t, "carla@example.org", "Carla Applicant", 3)
	waitForMail(t, cfg, "carla@example.org", "We received your membership application")

	anna, ben := newClient(t, base), newClient(t, base)
	anna.login("anna@board.example", "correct horse battery")
	ben.login("ben@board.example", "correct horse battery")

	_, body := anna.get("/board/applications")
	wantContains(t, body, "Carla Applicant", "0 of 2")
	_, body = anna.get("/board/applications/" + id)
	wantContains(t, body, "Hauptstr. 1", "Declaration in text form", "version")

	resp, _ := anna.submit("/board/applications/"+id, "/board/applications/"+id+"/approve", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get("/board/applications")
	wantContains(t, body, "another board member needs to confirm", "1 of 2")

	// The same board member cannot be the second approval.
	resp, _ = anna.submit("/board/applications/"+id, "/board/applications/"+id+"/approve", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get("/board/applications/" + id)
	wantContains(t, body, "You have already approved", "1 of 2")
	if n := d.count(t, "memberships", "member_number IS NOT NULL"); n != 0 {
		t.Fatalf("admitted after one approval: %d", n)
	}

	resp, _ = ben.submit("/board/applications/"+id, "/board/applications/"+id+"/approve", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = ben.get("/board/applications")
	wantContains(t, body, "Admitted as member 1.", "No open applications.")
	waitForMail(t, cfg, "carla@example.org", "Welcome: you are now a member")

	u, err := d.accounts.ByEmail(context.Background(), "carla@example.org")
	if err != nil || !u.Has(account.RoleMember) {
		t.Fatalf("member role not granted: %v %v", u, err)
	}

	// Acting on a decided application is refused; it is no longer listed.
	resp, _ = ben.get("/board/applications/" + id)
	wantStatus(t, resp, http.StatusNotFound)

	// The register lists the member, searchable and exportable.
	_, body = ben.get("/board/members?q=carla")
	wantContains(t, body, "Carla Applicant", "Berlin", ">3<")
	_, body = ben.get("/board/members?q=nobody")
	wantContains(t, body, "No members match.")
	resp, body = ben.get("/board/members.csv?status=member")
	wantStatus(t, resp, http.StatusOK)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(body, "Carla Applicant") {
		t.Errorf("CSV export: %s\n%s", resp.Header.Get("Content-Type"), body)
	}

	// The admin sees the mails in the outbox.
	admin := newClient(t, base)
	admin.login("admin@example.org", "correct horse battery")
	_, body = admin.get("/admin/outbox")
	wantContains(t, body, "Welcome: you are now a member", "carla@example.org")
	file := regexp.MustCompile(`href="/admin/outbox/([^"]+)"`).FindStringSubmatch(body)
	if file == nil {
		t.Fatal("no mail link in the outbox")
	}
	resp, body = admin.get("/admin/outbox/" + file[1])
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Subject:")
	resp, _ = admin.get("/admin/outbox/..%2Fallmende.db")
	wantStatus(t, resp, http.StatusNotFound)
}

func TestBoardRejects(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	id := d.apply(t, "dora@example.org", "Dora Secretname", 1)
	anna := newClient(t, base)
	anna.login("anna@board.example", "correct horse battery")

	resp, body := anna.submit("/board/applications/"+id, "/board/applications/"+id+"/reject", url.Values{"reason": {""}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Dora Secretname", `aria-invalid="true"`)

	resp, _ = anna.submit("/board/applications/"+id, "/board/applications/"+id+"/reject", url.Values{"reason": {"not eligible"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if n := d.count(t, "memberships", "legal_name = ?", "Dora Secretname"); n != 0 {
		t.Errorf("personal data of the rejected application kept: %d rows", n)
	}
	if n := d.count(t, "rejections", ""); n != 1 {
		t.Errorf("rejections = %d, want 1 anonymous record", n)
	}
	waitForMail(t, cfg, "dora@example.org", "not eligible")
}

func TestBoardLedgerAndExclusion(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	id := d.apply(t, "eva@example.org", "Eva Member", 2)
	anna, ben := newClient(t, base), newClient(t, base)
	anna.login("anna@board.example", "correct horse battery")
	ben.login("ben@board.example", "correct horse battery")
	anna.submit("/board/applications/"+id, "/board/applications/"+id+"/approve", url.Values{})
	ben.submit("/board/applications/"+id, "/board/applications/"+id+"/approve", url.Values{})

	page := "/board/members/" + id
	today := time.Now().UTC().Format("2006-01-02")
	for _, bad := range []url.Values{
		{"amount": {"abc"}, "date": {today}},
		{"amount": {"-5"}, "date": {today}},
		{"amount": {"0"}, "date": {today}},
		{"amount": {"50"}, "date": {"2999-01-01"}},
	} {
		resp, body := anna.submit(page, page+"/payments", bad)
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		wantContains(t, body, `aria-invalid="true"`)
	}
	if n := d.count(t, "capital_transactions", ""); n != 0 {
		t.Fatalf("bad payments booked: %d", n)
	}
	resp, body := anna.submit(page, page+"/payments", url.Values{"amount": {"100.00"}, "date": {today}, "note": {"bank transfer"}})
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Confirm: book €100.00")
	resp, _ = anna.submit(page, page+"/payments", url.Values{"confirm_cents": {"10000"}, "amount": {"100.00"}, "date": {today}, "note": {"bank transfer"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(page)
	wantContains(t, body, "€100.00", "bank transfer", "2 / 2")

	// Reverse the payment: a new row, the old one stays; twice is refused.
	rev := regexp.MustCompile(`action="(/board/ledger/capital/[^"]+/reverse)"`).FindStringSubmatch(body)
	if rev == nil {
		t.Fatal("no reverse button for the payment")
	}
	req := func(path string) *http.Response {
		form := url.Values{"_csrf": {anna.csrf(page)}, "reason": {"typo"}}
		r, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Referer", base+page)
		resp, _ := anna.do(r)
		return resp
	}
	wantStatus(t, req(rev[1]), http.StatusSeeOther)
	_, body = anna.get(page)
	wantContains(t, body, "Reversal booked.", "−€100.00", "2 / 0")
	wantStatus(t, req(rev[1]), http.StatusSeeOther)
	_, body = anna.get(page)
	if strings.Contains(body, "Reversal booked.") {
		t.Error("a row was reversed twice")
	}
	if n := d.count(t, "capital_transactions", ""); n != 2 {
		t.Errorf("capital rows = %d, want 2", n)
	}

	// Exclusion by the book: reason from the bylaws and facts, hearing,
	// decision, letter; the membership runs to the business year's end.
	resp, body = anna.submit(page, page+"/exclusion", url.Values{"reason": {"We do not like her"}, "facts": {""}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose one of the reasons", "Describe the facts")
	reason := regexp.MustCompile(`<option value="(Failure to pay[^"]*)"`).FindStringSubmatch(body)
	if reason == nil {
		t.Fatal("the bylaws' reasons are not offered")
	}
	resp, _ = anna.submit(page, page+"/exclusion", url.Values{"reason": {reason[1]}, "facts": {"No payment after two reminders."}})
	wantStatus(t, resp, http.StatusSeeOther)
	xpage := resp.Header.Get("Location")
	if !strings.HasPrefix(xpage, "/board/exclusions/") {
		t.Fatalf("opened proceedings went to %q", xpage)
	}
	resp, body = ben.submit(xpage, xpage+"/decision", url.Values{"decided_on": {today}, "exclude": {"yes"}})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "has not been heard")
	resp, _ = ben.submit(xpage, xpage+"/statement", url.Values{"statement": {"Heard by phone: she cannot pay."}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = ben.submit(xpage, xpage+"/decision", url.Values{"decided_on": {today}, "exclude": {"yes"}, "reference": {"Board meeting 12"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = anna.submit(xpage, xpage+"/letter", url.Values{"sent_on": {"not a day"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a date")
	resp, _ = anna.submit(xpage, xpage+"/letter", url.Values{"sent_on": {today}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(xpage)
	yearEnd := fmt.Sprintf("31 Dec %d", time.Now().UTC().Year())
	wantContains(t, body, "letter sent", yearEnd)
	_, body = anna.get(page)
	wantContains(t, body, "member until the business year ends: excluded by decision")
	u, _ := d.accounts.ByEmail(context.Background(), "eva@example.org")
	if !u.Has(account.RoleMember) {
		t.Error("a member under exclusion lost the member role before the business year ended")
	}
}

func TestBoardOnly(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	createUser(t, srv, "mia@example.org", account.RoleMember, account.RoleAdmin)
	id := d.apply(t, "finn@example.org", "Finn", 1)
	c := newClient(t, base)
	c.login("mia@example.org", "correct horse battery")
	for _, p := range []string{"/board/applications", "/board/applications/" + id, "/board/members", "/board/members.csv"} {
		resp, _ := c.get(p)
		wantStatus(t, resp, http.StatusForbidden)
	}
	resp, _ := c.submit("/", "/board/applications/"+id+"/approve", url.Values{})
	wantStatus(t, resp, http.StatusForbidden)

	token := tokenFor(t, d, "mia@example.org")
	for _, call := range [][2]string{{"GET", "/api/v1/applications"}, {"POST", "/api/v1/applications/" + id + "/admit"},
		{"POST", "/api/v1/applications/" + id + "/reject"}, {"GET", "/api/v1/members"}} {
		resp, body := c.api(call[0], call[1], token)
		wantStatus(t, resp, http.StatusForbidden)
		decodeAPIError(t, body)
	}
	if n := d.count(t, "membership_approvals", ""); n != 0 {
		t.Errorf("approvals by a non-board user: %d", n)
	}
}

func tokenFor(t *testing.T, d *domain, email string) string {
	t.Helper()
	u, err := d.accounts.ByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := account.NewTokens(d.db, d.accounts).Create(context.Background(), models.SystemActor("test"), u.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func apiJSON(c *client, method, path, token, body string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return c.do(req)
}

// Concurrent admissions through the API keep member numbers unique and
// gapless.
func TestBoardAPIConcurrentAdmissions(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	ctx := context.Background()
	if err := d.rules.Set(ctx, models.SystemActor("test"), rulebook.RuleAdmissionApprovals, "1", time.Now().Add(-time.Hour), "initial"); err != nil {
		t.Fatal(err)
	}
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	c := newClient(t, base)
	tokens := []string{tokenFor(t, d, "anna@board.example"), tokenFor(t, d, "ben@board.example")}

	const n = 8
	var ids []string
	for i := range n {
		ids = append(ids, d.apply(t, fmt.Sprintf("m%d@example.org", i), fmt.Sprintf("Member %d", i), 1))
	}
	resp, body := c.api("GET", "/api/v1/applications", tokens[0])
	wantStatus(t, resp, http.StatusOK)
	var list struct {
		Applications []struct{ ID string } `json:"applications"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Applications) != n {
		t.Fatalf("applications: %s", body)
	}

	// Both board members click "admit" on every application at once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	numbers := map[int64]string{}
	for _, id := range ids {
		for _, tok := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, body := apiJSON(c, "POST", "/api/v1/applications/"+id+"/admit", tok, "")
				if resp.StatusCode == http.StatusConflict {
					return // the other board member was first
				}
				var r struct {
					MemberNumber *int64 `json:"member_number"`
					Admitted     bool   `json:"admitted"`
				}
				if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil || !r.Admitted || r.MemberNumber == nil {
					t.Errorf("admit %s: %d %s", id, resp.StatusCode, body)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if prev, dup := numbers[*r.MemberNumber]; dup {
					t.Errorf("member number %d given to %s and %s", *r.MemberNumber, prev, id)
				}
				numbers[*r.MemberNumber] = id
			}()
		}
	}
	wg.Wait()
	for i := int64(1); i <= n; i++ {
		if _, ok := numbers[i]; !ok {
			t.Errorf("member number %d missing: %v", i, numbers)
		}
	}

	// A status the register does not know is a malformed request, not an
	// empty list.
	resp, body = c.api("GET", "/api/v1/members?status=AAA", tokens[1])
	wantStatus(t, resp, http.StatusBadRequest)
	if e := decodeAPIError(t, body); e.Fields["status"] == "" {
		t.Errorf("400 without a message for status: %s", body)
	}
	resp, body = c.api("GET", "/api/v1/members?status=member", tokens[1])
	wantStatus(t, resp, http.StatusOK)
	var reg struct {
		Members []struct {
			MemberNumber int64 `json:"member_number"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(body), &reg); err != nil || len(reg.Members) != n {
		t.Errorf("register: %s", body)
	}

	// Reject: bad JSON is a 400, a missing reason a 422, both with the error shape.
	last := d.apply(t, "late@example.org", "Late", 1)
	resp, body = apiJSON(c, "POST", "/api/v1/applications/"+last+"/reject", tokens[0], `{"reason":`)
	wantStatus(t, resp, http.StatusBadRequest)
	decodeAPIError(t, body)
	resp, body = apiJSON(c, "POST", "/api/v1/applications/"+last+"/reject", tokens[0], `{"reason":""}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if e := decodeAPIError(t, body); e.Fields["reason"] == "" {
		t.Errorf("422 without field message: %+v", e)
	}
	resp, _ = apiJSON(c, "POST", "/api/v1/applications/"+last+"/reject", tokens[0], `{"reason":"full"}`)
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = apiJSON(c, "POST", "/api/v1/applications/"+last+"/admit", tokens[0], "")
	wantStatus(t, resp, http.StatusNotFound)
}

// TestBoardPaymentConfirm: a typed amount is read by the browser's language
// and shown back with what the member owes; nothing is booked before the
// confirming post.
func TestBoardPaymentConfirm(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	id := d.apply(t, "eva@example.org", "Eva Member", 2) // owes 2 × EUR 50.00
	anna, ben := newClient(t, base), newClient(t, base)
	anna.login("anna@board.example", "correct horse battery")
	ben.login("ben@board.example", "correct horse battery")
	anna.submit("/board/applications/"+id, "/board/applications/"+id+"/approve", url.Values{})
	ben.submit("/board/applications/"+id, "/board/applications/"+id+"/approve", url.Values{})

	page := "/board/members/" + id
	today := time.Now().UTC().Format("2006-01-02")
	post := func(lang string, form url.Values) (*http.Response, string) {
		t.Helper()
		form.Set("_csrf", anna.csrf(page))
		r, _ := http.NewRequest(http.MethodPost, base+page+"/payments", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Accept-Language", lang)
		return anna.do(r)
	}
	booked := func() int64 { t.Helper(); return d.count(t, "capital_transactions", "") }
	for _, c := range []struct {
		lang, amount string
		want         []string
		excess       bool
	}{
		{"de-DE,de;q=0.9", "100,00", []string{"Bestätigen: 100,00 € buchen", "Geschuldet: 100,00 €", `name="confirm_cents" value="10000"`}, false},
		{"en-US", "100,00", []string{"Confirm: book €100.00"}, false},
		{"de-DE", "1.000", []string{"Bestätigen: 1.000,00 € buchen", "Das übersteigt den geschuldeten Betrag um 900,00 €", `value="1.000"`}, true},
		{"en-US", "1.000", []string{"Confirm: book €1.00", "Owed: €100.00"}, false},
		{"de", "€ 1.000,50", []string{"Bestätigen: 1.000,50 € buchen", "übersteigt den geschuldeten Betrag um 900,50 €"}, true},
	} {
		resp, body := post(c.lang, url.Values{"amount": {c.amount}, "date": {today}, "note": {"transfer"}})
		wantStatus(t, resp, http.StatusOK)
		wantContains(t, body, c.want...)
		if strings.Contains(body, `id="payment-confirm-excess"`) != c.excess {
			t.Errorf("%s %q: excess warning shown wrongly", c.lang, c.amount)
		}
	}
	if n := booked(); n != 0 {
		t.Fatalf("booked before confirmation: %d rows", n)
	}
	// Garbage keeps the typed value, with the field's error.
	resp, body := post("de", url.Values{"amount": {"10,0,0"}, "date": {today}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, `value="10,0,0"`, `aria-invalid="true"`, "etwa 50 oder 50,00")
	// A future date is refused in the first step already.
	resp, _ = post("de", url.Values{"amount": {"100,00"}, "date": {"2999-01-01"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)

	resp, _ = post("de", url.Values{"confirm_cents": {"10000"}, "amount": {"100,00"}, "date": {today}, "note": {"transfer"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if n := booked(); n != 1 {
		t.Fatalf("booked after confirmation: %d rows, want 1", n)
	}
	_, body = anna.get(page)
	// The flash was written in the German of the request that booked it.
	wantContains(t, body, "Zahlung von 100,00 € erfasst.", "€100.00 / €100.00")
	_, body = anna.get("/board/members")
	wantContains(t, body, "Owed", `<td class="paid">€100.00</td>`, `<td class="owed">€0.00</td>`)
	_, body = anna.get("/board/members.csv")
	wantContains(t, body, "paid_eur,owed_eur", ",100.00,0.00")
}
