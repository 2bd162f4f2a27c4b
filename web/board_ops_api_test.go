package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models/account"
)

// The board's member pages through the API: admission, the register with
// paid and owed, a payment checked then booked, its reversal, further
// shares admitted and rejected, and exclusion proceedings step by step.
// Members are refused; bad input gets field messages and books nothing.
func TestBoardAPIMemberAdministration(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	id := d.apply(t, "eva@example.org", "Eva Member", 2)
	anna, ben := tokenFor(t, d, "anna@board.example"), tokenFor(t, d, "ben@board.example")
	c := newClient(t, base)
	for _, tok := range []string{anna, ben} {
		resp, _ := apiJSON(c, http.MethodPost, "/api/v1/applications/"+id+"/admit", tok, "")
		wantStatus(t, resp, http.StatusOK)
	}
	eva := tokenFor(t, d, "eva@example.org")
	p, err := d.rules.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	price := p.SharePriceCents
	cents := func(name string, n int64) string { return fmt.Sprintf(`"%s":%d`, name, n) }

	resp, body := c.api(http.MethodGet, "/api/v1/members", anna)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"paid_cents":0`, cents("owed_cents", 2*price))
	resp, _ = c.api(http.MethodGet, "/api/v1/members/"+id, eva)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = c.api(http.MethodGet, "/api/v1/members/"+id, anna)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"capital_ledger":[]`, `"shares_subscribed":2`)

	pay := "/api/v1/members/" + id + "/payments"
	today := time.Now().UTC().Format(time.DateOnly)
	resp, _ = apiJSON(c, http.MethodPost, pay, eva, `{"amount_cents":10000,"date":"`+today+`"}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, pay, anna, `{"amount_cents":0,"date":"`+today+`"}`)
	wantFieldError(t, resp, body, "amount_cents")
	resp, body = apiJSON(c, http.MethodPost, pay, anna, `{"amount_cents":100,"date":"2999-01-01"}`)
	wantFieldError(t, resp, body, "date")
	resp, body = apiJSON(c, http.MethodPost, pay, anna, `{"amount_cents":100,"date":"01.02.2026"}`)
	wantFieldError(t, resp, body, "date")
	resp, _ = apiJSON(c, http.MethodPost, pay, anna, `{"amount_cents":"100,00","date":"`+today+`"}`)
	wantStatus(t, resp, http.StatusBadRequest)
	resp, body = apiJSON(c, http.MethodPost, pay, anna, fmt.Sprintf(`{"amount_cents":%d,"date":"%s","note":"bank","dry_run":true}`, 2*price+5000, today))
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, cents("owed_cents", 2*price), `"excess_cents":5000`, `"booked":false`)
	if n := d.count(t, "capital_transactions", ""); n != 0 {
		t.Fatalf("a dry run or a bad payment booked %d rows", n)
	}
	resp, body = apiJSON(c, http.MethodPost, pay, anna, fmt.Sprintf(`{"amount_cents":%d,"date":"%s","note":"bank transfer"}`, price, today))
	wantStatus(t, resp, http.StatusCreated)
	wantContains(t, body, `"booked":true`, `"excess_cents":0`)
	_, body = c.api(http.MethodGet, "/api/v1/members?q=Eva", anna)
	wantContains(t, body, cents("paid_cents", price), cents("owed_cents", price))

	// Reversal of the payment's row, once.
	var member struct {
		CapitalLedger []struct {
			ID string `json:"id"`
		} `json:"capital_ledger"`
	}
	_, body = c.api(http.MethodGet, "/api/v1/members/"+id, anna)
	decodeInto(t, body, &member)
	if len(member.CapitalLedger) != 1 {
		t.Fatalf("capital ledger: %s", body)
	}
	row := "/api/v1/ledger/capital/" + member.CapitalLedger[0].ID + "/reverse"
	resp, _ = apiJSON(c, http.MethodPost, row, eva, `{"reason":"typo"}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodPost, row, anna, `{"reason":"typo"}`)
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = apiJSON(c, http.MethodPost, row, anna, `{"reason":"typo"}`)
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/ledger/shares/"+member.CapitalLedger[0].ID+"/reverse", anna, `{"reason":"typo"}`)
	wantStatus(t, resp, http.StatusNotFound)
	resp, body = apiJSON(c, http.MethodPost, row, anna, `{"reason":" "}`)
	wantFieldError(t, resp, body, "reason")
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/ledger/shares/"+member.CapitalLedger[0].ID+"/reverse", eva, `{"reason":"typo"}`)
	wantStatus(t, resp, http.StatusForbidden)
	if n := d.count(t, "capital_transactions", ""); n != 2 {
		t.Errorf("capital rows = %d, want 2", n)
	}
	_, body = c.api(http.MethodGet, "/api/v1/members?q=Eva", anna)
	wantContains(t, body, `"paid_cents":0`)

	// Further shares: declared by the member, admitted or rejected.
	for range 2 {
		resp, _ = apiJSON(c, http.MethodPost, "/api/v1/membership/shares", eva, `{"shares":1,"confirm":true}`)
		wantStatus(t, resp, http.StatusOK)
	}
	var shares struct {
		Subscriptions []struct {
			ID string `json:"id"`
		} `json:"subscriptions"`
	}
	resp, _ = c.api(http.MethodGet, "/api/v1/board/shares", eva)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = c.api(http.MethodGet, "/api/v1/board/shares", anna)
	wantStatus(t, resp, http.StatusOK)
	decodeInto(t, body, &shares)
	if len(shares.Subscriptions) != 2 {
		t.Fatalf("pending declarations: %s", body)
	}
	first, second := "/api/v1/share-subscriptions/"+shares.Subscriptions[0].ID, "/api/v1/share-subscriptions/"+shares.Subscriptions[1].ID
	resp, _ = apiJSON(c, http.MethodPost, first+"/admit", eva, "")
	wantStatus(t, resp, http.StatusForbidden)
	// Not while shares held are not paid in (§15b(3) GenG).
	resp, _ = apiJSON(c, http.MethodPost, first+"/admit", anna, "")
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = apiJSON(c, http.MethodPost, pay, anna, fmt.Sprintf(`{"amount_cents":%d,"date":"%s"}`, 2*price, today))
	wantStatus(t, resp, http.StatusCreated)
	resp, _ = apiJSON(c, http.MethodPost, first+"/admit", anna, "")
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = apiJSON(c, http.MethodPost, first+"/admit", anna, "")
	wantStatus(t, resp, http.StatusConflict)
	resp, body = apiJSON(c, http.MethodPost, second+"/reject", anna, `{"reason":"  "}`)
	wantFieldError(t, resp, body, "reason")
	resp, _ = apiJSON(c, http.MethodPost, second+"/reject", anna, `{"reason":"Capacity is full this year."}`)
	wantStatus(t, resp, http.StatusNoContent)
	_, body = c.api(http.MethodGet, "/api/v1/members/"+id, anna)
	wantContains(t, body, `"shares_subscribed":3`)

	// Steps on things that do not exist, or without a needed answer.
	none := "01a235c4-55b3-77ca-9175-3d3d0f56eda8"
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/transfers/"+none+"/execute", anna, "")
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/transfers/"+none+"/refuse", eva, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/transfers/"+none+"/refuse", anna, "")
	wantStatus(t, resp, http.StatusNotFound)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/notices/"+none+"/withdrawal", anna, `{}`)
	wantFieldError(t, resp, body, "accept")
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/notices/"+none+"/withdrawal", anna, `{"accept":false}`)
	wantStatus(t, resp, http.StatusNotFound)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/refunds/"+none+"/paid", anna, `{"date":"yesterday"}`)
	wantFieldError(t, resp, body, "date")
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/refunds/"+none+"/paid", anna, `{"date":"`+today+`"}`)
	wantStatus(t, resp, http.StatusNotFound)

	// Exclusion by the book.
	reason := p.Reasons()[0]
	open := "/api/v1/members/" + id + "/exclusion"
	resp, _ = apiJSON(c, http.MethodPost, open, eva, `{"reason":"`+reason+`","facts":"No payment."}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, open, anna, `{"reason":"We do not like her","facts":"No payment."}`)
	wantFieldError(t, resp, body, "reason")
	resp, body = apiJSON(c, http.MethodPost, open, anna, `{"reason":"`+reason+`","facts":"No payment after two reminders."}`)
	wantStatus(t, resp, http.StatusCreated)
	var x struct {
		ID string `json:"id"`
	}
	decodeInto(t, body, &x)
	xpath := "/api/v1/exclusions/" + x.ID
	resp, body = c.api(http.MethodGet, xpath, ben)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"stage":"hearing"`, `"heard":false`)
	resp, _ = c.api(http.MethodGet, xpath, eva)
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodPost, xpath+"/decision", ben, `{"exclude":true,"decided_on":"`+today+`"}`)
	wantStatus(t, resp, http.StatusConflict)
	resp, body = apiJSON(c, http.MethodPost, xpath+"/statement", ben, `{"statement":""}`)
	wantFieldError(t, resp, body, "statement")
	resp, body = apiJSON(c, http.MethodPost, xpath+"/statement", ben, `{"statement":"Heard by phone: she cannot pay."}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"heard":true`)
	resp, body = apiJSON(c, http.MethodPost, xpath+"/decision", ben, `{"exclude":true}`)
	wantFieldError(t, resp, body, "decided_on")
	resp, body = apiJSON(c, http.MethodPost, xpath+"/decision", ben, `{"exclude":true,"decided_on":"`+today+`","reference":"Board meeting 12"}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"stage":"decided: letter to send"`)
	resp, body = apiJSON(c, http.MethodPost, xpath+"/letter", anna, `{"sent_on":"not a day"}`)
	wantFieldError(t, resp, body, "sent_on")
	resp, body = apiJSON(c, http.MethodPost, xpath+"/letter", anna, `{"sent_on":"`+today+`"}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"stage":"letter sent"`, fmt.Sprintf(`"effective_on":"%d-12-31`, time.Now().UTC().Year()))
	_, body = c.api(http.MethodGet, "/api/v1/members/"+id, anna)
	wantContains(t, body, `"exclusion":{"id":"`+x.ID)
}

// Organs through the API: an election held outside the portal recorded,
// listed, and ended early; a member cannot, bad dates and reasons are
// field errors.
func TestBoardAPIOrgans(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	id := d.apply(t, "sue@example.org", "Sue Pervisor", 1)
	anna, ben := tokenFor(t, d, "anna@board.example"), tokenFor(t, d, "ben@board.example")
	c := newClient(t, base)
	for _, tok := range []string{anna, ben} {
		resp, _ := apiJSON(c, http.MethodPost, "/api/v1/applications/"+id+"/admit", tok, "")
		wantStatus(t, resp, http.StatusOK)
	}
	sue := tokenFor(t, d, "sue@example.org")
	sueU, err := d.accounts.ByEmail(context.Background(), "sue@example.org")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	appoint := `{"organ":"supervisory_board","user_id":"` + sueU.ID + `","decided_on":"` + today + `","term_start":"` + today +
		`","term_end":"2031-06-30","reference":"General assembly 2026"}`

	resp, _ := c.api(http.MethodGet, "/api/v1/organs", sue)
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/organs/appointments", sue, appoint)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body := apiJSON(c, http.MethodPost, "/api/v1/organs/appointments", anna, strings.Replace(appoint, "2031-06-30", "2031-06-31", 1))
	wantFieldError(t, resp, body, "term_end")
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/organs/appointments", anna, strings.Replace(appoint, "supervisory_board", "council", 1))
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/organs/appointments", anna, appoint)
	wantStatus(t, resp, http.StatusCreated)
	var ap struct {
		ID    string `json:"id"`
		Organ string `json:"organ"`
	}
	decodeInto(t, body, &ap)
	if ap.Organ != "supervisory_board" {
		t.Errorf("appointment %s", body)
	}
	// The seat gives Sue the supervisory role, and with it the organs.
	resp, body = c.api(http.MethodGet, "/api/v1/organs", sue)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, ap.ID, `"supervisory_board":true`)

	end := "/api/v1/organs/appointments/" + ap.ID + "/end"
	resp, body = apiJSON(c, http.MethodPost, end, anna, `{"last_day":"`+today+`","reason":"bored"}`)
	wantFieldError(t, resp, body, "reason")
	resp, body = apiJSON(c, http.MethodPost, end, anna, `{"last_day":"","reason":"resigned"}`)
	wantFieldError(t, resp, body, "last_day")
	resp, _ = apiJSON(c, http.MethodPost, end, anna, `{"last_day":"`+today+`","reason":"resigned"}`)
	wantStatus(t, resp, http.StatusNoContent)
	_, body = c.api(http.MethodGet, "/api/v1/organs", anna)
	wantContains(t, body, `"end_reason":"resigned"`)
}
