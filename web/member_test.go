package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
)

// joinValues is a valid application as the Join page submits it.
func joinValues(name string, shares string) url.Values {
	return url.Values{
		"person_kind": {"natural"}, "legal_name": {name}, "street": {"Analytical Way 7"}, "postal_code": {"10115"},
		"city": {"Berlin"}, "country": {"DE"}, "shares": {shares}, "accept_bylaws": {"yes"}, "bylaws_version": {"2026-1"}, "acknowledge_notice": {"yes"},
	}
}

const joinJSON = `{"person_kind":"natural","legal_name":"Grace Hopper","street":"Navy Yard 1","postal_code":"20374",
	"city":"Washington","country":"US","shares":3,"accept_bylaws":true,"bylaws_version":"2026-1","acknowledge_notice":true}`

func TestJoinBadInput(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org")
	c := newClient(t, base)
	c.login("ada@example.org", "correct horse battery")

	resp, body := c.get("/membership")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Join the cooperative", `action="/membership/apply"`, `name="bylaws_version" value="2026-1"`,
		`id="bylaws-version">Version 2026-1`, "The bylaws of the cooperative, version 2026-1.", "€50.00", "at least 1", "at most 100",
		`value="Test ada@example.org"`, `id="join-declaration"`, "I undertake to pay in the full amount of the shares",
		"The bylaws exclude any obligation of members to make additional contributions",
		"I acknowledge expressly that this notice period is longer than one year.", `href="/membership/bylaws"`)
	resp, body = c.get("/membership/bylaws")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Bylaws, version 2026-1", "The bylaws of the cooperative, version 2026-1.")

	form := joinValues("Ada Lovelace", "101")
	form.Set("sepa_mandate", "yes")
	form.Set("iban", "DE00 1234 5678")
	form.Set("account_holder", "Ada Lovelace")
	form.Del("accept_bylaws")
	form.Del("acknowledge_notice")
	resp, body = c.submit("/membership", "/membership/apply", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Subscribe between 1 and 100 shares.", "This is not a valid IBAN",
		"Acknowledge that you can leave only with 24 months&#39; notice.",
		"To become a member you need to make the declaration and accept the bylaws.", `aria-invalid="true"`,
		`value="Ada Lovelace"`, `value="Analytical Way 7"`, `value="DE00 1234 5678"`, `value="101"`)
	if !regexp.MustCompile(`name="sepa_mandate"[^>]*\bchecked\b`).MatchString(body) {
		t.Error("the SEPA mandate checkbox lost its tick")
	}
	if regexp.MustCompile(`name="accept_bylaws"[^>]*\bchecked\b`).MatchString(body) {
		t.Error("the bylaws were accepted on the user's behalf")
	}

	// A mistyped number gets the range message; a legal person needs the
	// organisation and who represents it.
	form = joinValues("Ada Lovelace", "two")
	form.Set("person_kind", "legal")
	resp, body = c.submit("/membership", "/membership/apply", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Subscribe between 1 and 100 shares.", `value="two"`,
		"Enter the registered name of the organisation.", "Enter who represents the organisation.")

	// Bylaws changed while the form was open: the acceptance must be renewed.
	form = joinValues("Ada Lovelace", "1")
	form.Set("bylaws_version", "2020-1")
	resp, body = c.submit("/membership", "/membership/apply", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "The bylaws have changed (now version 2026-1)", `name="bylaws_version" value="2026-1"`)

	// Nothing was saved: the account still sees the Join page.
	resp, body = c.get("/membership")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Join the cooperative")
}

func TestJoinApplicationStatus(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org")
	c := newClient(t, base)
	c.login("ada@example.org", "correct horse battery")

	resp, _ := c.submit("/membership", "/membership/apply", joinValues("Ada Lovelace", "2"))
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/membership" {
		t.Errorf("after applying: redirect to %q", loc)
	}
	resp, body := c.get("/membership")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Your application", "Your application has been received", "applied, waiting for the board",
		`<dd class="approvals">0 of 2</dd>`, `<dd class="shares-applied">2 (€100.00)</dd>`, "Ada Lovelace", "version 2026-1")
	if strings.Contains(body, "Join the cooperative") {
		t.Error("an applicant still sees the Join page")
	}

	resp, body = c.submit("/membership", "/membership/apply", joinValues("Ada Lovelace", "2"))
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "You already have an open membership application or are a member.")

	// /membership/apply is for applying again after a membership ended.
	resp, _ = c.get("/membership/apply")
	wantStatus(t, resp, http.StatusSeeOther)
}

func TestMembershipAPIApplication(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "grace@example.org")
	d := openDomain(t, cfg)
	token := tokenFor(t, d, "grace@example.org")
	c := newClient(t, base)

	resp, body := c.api(http.MethodGet, "/api/v1/membership", token)
	wantStatus(t, resp, http.StatusNotFound)
	if e := decodeAPIError(t, body); e.Code != "not_found" {
		t.Errorf("404 body = %+v", e)
	}

	for _, bad := range []string{`{"person_kind": "natural",`, `{"shares": "three"}`, `{"legal_nam": "Grace"}`, `[]`, ``} {
		resp, body = apiJSON(c, http.MethodPost, "/api/v1/membership/application", token, bad)
		wantStatus(t, resp, http.StatusBadRequest)
		if e := decodeAPIError(t, body); e.Code != "bad_request" || e.Message == "" {
			t.Errorf("%q: 400 body = %+v", bad, e)
		}
	}

	invalid := strings.Replace(strings.Replace(joinJSON, `"shares":3`, `"shares":500,"sepa_mandate":true,"iban":"DE00123","account_holder":"Grace"`, 1),
		`"accept_bylaws":true`, `"accept_bylaws":false`, 1)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/membership/application", token, invalid)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	e := decodeAPIError(t, body)
	if e.Code != "invalid" || e.Fields["shares"] == "" || e.Fields["iban"] == "" || e.Fields["accept_bylaws"] == "" {
		t.Errorf("422 body = %+v", e)
	}
	resp, _ = c.api(http.MethodGet, "/api/v1/membership", token)
	wantStatus(t, resp, http.StatusNotFound) // nothing saved

	resp, body = apiJSON(c, http.MethodPost, "/api/v1/membership/application", token, joinJSON)
	wantStatus(t, resp, http.StatusCreated)
	var m struct {
		ID           string  `json:"id"`
		Status       string  `json:"status"`
		MemberNumber *int64  `json:"member_number"`
		LegalName    string  `json:"legal_name"`
		Shares       int     `json:"shares_applied"`
		AdmittedOn   *string `json:"admitted_on"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.ID == "" || m.Status != "applicant" ||
		m.MemberNumber != nil || m.LegalName != "Grace Hopper" || m.Shares != 3 || m.AdmittedOn != nil {
		t.Errorf("201 body = %s", body)
	}
	if loc := resp.Header.Get("Location"); loc != "/api/v1/membership" {
		t.Errorf("Location %q", loc)
	}

	resp, body = c.api(http.MethodGet, "/api/v1/membership", token)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"notices":[]`, `"approvals_received":0`, `"approvals_needed":2`, `"kind":"applied"`, `"status":"applicant"`)

	resp, body = apiJSON(c, http.MethodPost, "/api/v1/membership/application", token, joinJSON)
	wantStatus(t, resp, http.StatusConflict)
	if e := decodeAPIError(t, body); e.Code != "conflict" {
		t.Errorf("409 body = %+v", e)
	}
}

// memberOverviewJSON is the part of GET /api/v1/membership the tests look at.
type memberOverviewJSON struct {
	Membership struct {
		Status       string `json:"status"`
		MemberNumber *int64 `json:"member_number"`
		AdmittedOn   string `json:"admitted_on"`
	} `json:"membership"`
	SharesSubscribed int   `json:"shares_subscribed"`
	SharesPaid       int   `json:"shares_paid"`
	CapitalSubCents  int64 `json:"capital_subscribed_cents"`
	CapitalPaidCents int64 `json:"capital_paid_cents"`
	Entitlement      struct {
		VCPUs     int `json:"vcpus"`
		MemoryMiB int `json:"memory_mib"`
		DiskGiB   int `json:"disk_gib"`
	} `json:"entitlement"`
	NoticeEffectiveOn string `json:"notice_effective_on"`
	Notices           []struct {
		Status string `json:"status"`
	} `json:"notices"`
	History []struct {
		Kind string `json:"kind"`
	} `json:"history"`
}

// admitWithPayment approves the one open application with the given board
// members and books a payment of paidCents, through the domain services the
// board pages use.
func admitWithPayment(t *testing.T, d *domain, paidCents int64, boardEmails ...string) {
	t.Helper()
	ctx := context.Background()
	apps, err := d.members.Applications(ctx)
	if err != nil || len(apps) != 1 {
		t.Fatalf("applications: %v, %v", apps, err)
	}
	var board models.Actor
	for _, email := range boardEmails {
		u, err := d.accounts.ByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		board = models.Actor{UserID: u.ID, Email: u.Email, IP: "192.0.2.1"}
		if _, err := d.members.Approve(ctx, board, apps[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.members.RecordPayment(ctx, board, apps[0].ID, paidCents, time.Now(), "bank transfer"); err != nil {
		t.Fatal(err)
	}
}

var withdrawRE = regexp.MustCompile(`action="(/membership/notice/[^"]+/withdraw)"`)

func TestMembershipOfAdmittedMember(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "mia@example.org")
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	d := openDomain(t, cfg)
	rules, err := d.rules.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	preview := membership.NoticeEffectiveDate(time.Now(), rules).Format("2 Jan 2006")

	c := newClient(t, base)
	c.login("mia@example.org", "correct horse battery")
	resp, _ := c.submit("/membership", "/membership/apply", joinValues("Mia Member", "3"))
	wantStatus(t, resp, http.StatusSeeOther)
	admitWithPayment(t, d, 10000, "anna@board.example", "ben@board.example") // two of three shares paid

	resp, body := c.get("/membership")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Your membership", `<dd class="member-number">1</dd>`, `<span class="badge ok">member</span>`,
		`<dd class="shares-subscribed">3</dd>`, `<dd class="shares-paid">2</dd>`,
		`<dd class="capital-subscribed">€150.00</dd>`, `<dd class="capital-paid">€100.00</dd>`,
		`<dd class="entitlement">2 vCPUs, 4 GiB RAM and 40 GiB disk</dd>`,
		`<strong class="notice-preview">`+preview+`</strong>`, "Admitted", "admission", "bank transfer")

	// Shares: beyond the maximum, not a number, then a valid subscription.
	resp, body = c.submit("/membership", "/membership/shares", url.Values{"shares": {"98"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "A member holds at most 100 shares; you hold 3 and can add 97 more.", `value="98"`)
	resp, body = c.submit("/membership", "/membership/shares", url.Values{"shares": {"x"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Subscribe at least one share.")
	// §15b GenG: the exact declaration is shown, must be confirmed, and
	// the board admits it — not while earlier shares are unpaid.
	resp, body = c.submit("/membership", "/membership/shares", url.Values{"shares": {"2"}})
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="shares-declaration"`, "subscribe 2 further share(s) of 50.00 EUR each, 100.00 EUR in total", "undertake to pay in")
	resp, body = c.submit("/membership", "/membership/shares", url.Values{"shares": {"2"}, "step": {"confirm"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Confirm the declaration to subscribe the shares.", `id="shares-declaration"`)
	resp, _ = c.submit("/membership", "/membership/shares", url.Values{"shares": {"2"}, "step": {"confirm"}, "confirm": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/membership")
	wantContains(t, body, "Your declaration of 2 further shares has been recorded", `<dd class="shares-subscribed">3</dd>`, "pending")
	anna := newClient(t, base)
	anna.login("anna@board.example", "correct horse battery")
	_, body = anna.get("/board/shares")
	admit := regexp.MustCompile(`action="(/board/shares/[^"]+/admit)"`).FindStringSubmatch(body)
	if admit == nil {
		t.Fatalf("no Admit button on the board's list:\n%s", body)
	}
	resp, _ = anna.submit("/board/shares", admit[1], url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get("/board/shares")
	wantContains(t, body, "§15b(3) GenG", "50.00 EUR owed")
	apps, _ := d.members.Register(context.Background(), membership.RegisterFilter{})
	annaU, _ := d.accounts.ByEmail(context.Background(), "anna@board.example")
	if err := d.members.RecordPayment(context.Background(), models.Actor{UserID: annaU.ID}, apps[0].MembershipID, 5000, time.Now(), "rest"); err != nil {
		t.Fatal(err)
	}
	resp, _ = anna.submit("/board/shares", admit[1], url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/membership")
	wantContains(t, body, `<dd class="shares-subscribed">5</dd>`, "admitted")

	// Notice: a blank count never falls through to the whole membership.
	resp, body = c.submit("/membership", "/membership/notice", url.Values{"scope": {"shares"}, "shares": {""}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter on how many shares you give notice.")
	resp, body = c.submit("/membership", "/membership/notice", url.Values{"scope": {"shares"}, "shares": {"5"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, html.EscapeString("give notice on the whole membership instead"))
	resp, _ = c.submit("/membership", "/membership/notice", url.Values{"scope": {"shares"}, "shares": {"2"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/membership")
	wantContains(t, body, "Your notice has been recorded. It takes effect on "+preview+".",
		`<td class="effective-on">`+preview+`</td>`, "2 shares", "Withdraw", "Shares under notice")
	m := withdrawRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no Withdraw button")
	}
	resp, _ = c.submit("/membership", m[1], url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/membership")
	wantContains(t, body, "Your request to withdraw the notice has gone to the board", "withdrawal requested")
	if withdrawRE.MatchString(body) {
		t.Error("a notice awaiting the board still offers Withdraw")
	}
	resp, _ = c.submit("/membership", m[1], url.Values{})
	wantStatus(t, resp, http.StatusConflict)
	_, body = anna.get("/board/shares")
	decide := regexp.MustCompile(`action="(/board/notices/[^"]+/withdrawal)"`).FindStringSubmatch(body)
	if decide == nil {
		t.Fatalf("no withdrawal request on the board's page:\n%s", body)
	}
	resp, _ = anna.submit("/board/shares", decide[1], url.Values{"accept": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/membership")
	wantContains(t, body, `<span class="badge">withdrawn</span>`)

	// The same through the API.
	token := tokenFor(t, d, "mia@example.org")
	resp, body = c.api(http.MethodGet, "/api/v1/membership", token)
	wantStatus(t, resp, http.StatusOK)
	var o memberOverviewJSON
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatal(err)
	}
	if o.Membership.Status != "member" || o.Membership.MemberNumber == nil || *o.Membership.MemberNumber != 1 ||
		o.SharesSubscribed != 5 || o.SharesPaid != 3 || o.CapitalSubCents != 25000 || o.CapitalPaidCents != 15000 ||
		o.Entitlement.VCPUs != 3 || o.Entitlement.MemoryMiB != 6144 || o.Entitlement.DiskGiB != 60 ||
		o.NoticeEffectiveOn != membership.NoticeEffectiveDate(time.Now(), rules).Format(time.DateOnly) || len(o.Notices) != 1 || o.Notices[0].Status != "withdrawn" || len(o.History) < 5 {
		t.Errorf("overview = %s", body)
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/membership/shares", token, `{"shares": 96, "confirm": true}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if e := decodeAPIError(t, body); e.Fields["shares"] == "" {
		t.Errorf("422 body = %+v", e)
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/membership/shares", token, `{"shares": 1}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if e := decodeAPIError(t, body); e.Fields["confirm"] == "" {
		t.Errorf("an unconfirmed declaration: %+v", e)
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/membership/shares", token, `{"shares": 1, "confirm": true}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"shares_subscribed":5`, `"shares_pending":1`)

	resp, body = apiJSON(c, http.MethodPost, "/api/v1/membership/notice", token, `{}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if e := decodeAPIError(t, body); e.Fields["shares"] == "" {
		t.Errorf("notice without shares: %+v", e)
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/membership/notice", token, `{"shares": 0}`)
	wantStatus(t, resp, http.StatusCreated)
	wantContains(t, body, `"whole_membership":true`, `"effective_on":"`+membership.NoticeEffectiveDate(time.Now(), rules).Format(time.DateOnly)+`"`, `"status":"open"`)
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/membership/notice", token, `{"shares": 0}`)
	wantStatus(t, resp, http.StatusConflict)

	// Leaving, the member keeps reading the page but can no longer add shares.
	resp, body = c.get("/membership")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "member, leaving by notice", "whole membership", `<dd class="member-number">1</dd>`)
	if strings.Contains(body, `action="/membership/shares"`) {
		t.Error("a leaving member is offered more shares")
	}
	resp, body = c.submit("/membership", "/membership/shares", url.Values{"shares": {"1"}})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "Only members can subscribe further shares.")
}

func TestMembershipAddressAndExport(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "mia@example.org")
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	d := openDomain(t, cfg)
	c := newClient(t, base)
	c.login("mia@example.org", "correct horse battery")

	// Without a membership the export still holds the account.
	resp, body := c.get("/membership/export")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"email": "mia@example.org"`, `"memberships": []`)

	resp, _ = c.submit("/membership", "/membership/apply", joinValues("Mia Member", "1"))
	wantStatus(t, resp, http.StatusSeeOther)
	admitWithPayment(t, d, 5000, "anna@board.example", "ben@board.example")

	resp, body = c.get("/membership/address")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `value="Analytical Way 7"`, `value="10115"`, `<option value="DE" selected>Germany</option>`)
	resp, body = c.submit("/membership/address", "/membership/address",
		url.Values{"street": {"Neue Str. 2"}, "postal_code": {"80331"}, "city": {"München"}, "country": {"Germany"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter the two-letter country code", `value="Neue Str. 2"`, `value="München"`)
	resp, _ = c.submit("/membership/address", "/membership/address",
		url.Values{"street": {"Neue Str. 2"}, "postal_code": {"80331"}, "city": {"München"}, "country": {"de"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/membership")
	wantContains(t, body, "Your address has been saved.", `<dd class="address">Neue Str. 2, 80331 München, Germany</dd>`, "Address changed")

	resp, body = c.get("/membership/export")
	wantStatus(t, resp, http.StatusOK)
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="allmende-personal-data-`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	var export struct {
		Account struct {
			Email string   `json:"email"`
			Roles []string `json:"roles"`
		} `json:"account"`
		Memberships []struct {
			Membership struct {
				LegalName string `json:"legal_name"`
				Street    string `json:"street"`
			} `json:"membership"`
			Events        []json.RawMessage `json:"events"`
			ShareLedger   []json.RawMessage `json:"share_ledger"`
			CapitalLedger []json.RawMessage `json:"capital_ledger"`
		} `json:"memberships"`
	}
	if err := json.Unmarshal([]byte(body), &export); err != nil {
		t.Fatal(err)
	}
	if export.Account.Email != "mia@example.org" || len(export.Account.Roles) != 1 || len(export.Memberships) != 1 {
		t.Fatalf("export = %s", body)
	}
	if ms := export.Memberships[0]; ms.Membership.LegalName != "Mia Member" || ms.Membership.Street != "Neue Str. 2" ||
		len(ms.Events) != 3 || len(ms.ShareLedger) != 1 || len(ms.CapitalLedger) != 1 {
		t.Errorf("export membership = %+v", ms)
	}
	if strings.Contains(body, "password") {
		t.Error("the export holds the password hash")
	}
}
