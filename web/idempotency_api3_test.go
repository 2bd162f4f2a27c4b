package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/web"
)

// apiKeyed sends a JSON request with an Idempotency-Key header.
func apiKeyed(c *client, method, path, token, key, body string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	return c.do(req)
}

// A payment posted twice under one Idempotency-Key books once and the
// second answer repeats the first; the key with another amount is 422, a
// refusal is kept as the answer too, a member is refused before any key
// is kept, a bad key is 400, and after 24 hours the key books again.
func TestIdempotentPaymentAPI3(t *testing.T) {
	clock := models.NewManualClock(time.Now().UTC())
	srv, base, cfg := startServerWith(t, "none", func(c *web.Config) { c.Clock = clock })
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
	pay := "/api/v1/members/" + id + "/payments"
	today := clock.Now().Format(time.DateOnly)
	body := fmt.Sprintf(`{"amount_cents":5000,"date":"%s","note":"bank"}`, today)
	booked := func(want int64) {
		t.Helper()
		if n := d.count(t, "capital_transactions", ""); n != want {
			t.Fatalf("capital rows = %d, want %d", n, want)
		}
	}

	resp, first := apiKeyed(c, http.MethodPost, pay, anna, "pay-1", body)
	wantStatus(t, resp, http.StatusCreated)
	wantContains(t, first, `"booked":true`)
	resp, second := apiKeyed(c, http.MethodPost, pay, anna, "pay-1", body)
	wantStatus(t, resp, http.StatusCreated)
	if second != first || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay = %q (replayed %q), want the first answer %q", second, resp.Header.Get("Idempotent-Replayed"), first)
	}
	booked(1)
	// The key with another request.
	resp, answer := apiKeyed(c, http.MethodPost, pay, anna, "pay-1", strings.Replace(body, "5000", "6000", 1))
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, answer, "different request")
	resp, _ = apiKeyed(c, http.MethodPost, "/api/v1/refunds/"+id+"/paid", anna, "pay-1", `{"date":"`+today+`"}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	booked(1)
	// Another key is another payment.
	resp, _ = apiKeyed(c, http.MethodPost, pay, anna, "pay-2", body)
	wantStatus(t, resp, http.StatusCreated)
	booked(2)
	// A member is refused; the key stays unused, for the board as well
	// as for her.
	resp, _ = apiKeyed(c, http.MethodPost, pay, eva, "pay-3", body)
	wantStatus(t, resp, http.StatusForbidden)
	if n := d.count(t, "idempotency_keys", "idem_key = ?", "pay-3"); n != 0 {
		t.Errorf("a refused role kept its key (%d rows)", n)
	}
	// Bad input: the refusal is the kept answer, and nothing is booked.
	resp, bad := apiKeyed(c, http.MethodPost, pay, anna, "pay-4", `{"amount_cents":0,"date":"`+today+`"}`)
	wantFieldError(t, resp, bad, "amount_cents")
	resp, again := apiKeyed(c, http.MethodPost, pay, anna, "pay-4", `{"amount_cents":0,"date":"`+today+`"}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if again != bad {
		t.Errorf("replayed refusal %q, want %q", again, bad)
	}
	// A key that is not one.
	resp, _ = apiKeyed(c, http.MethodPost, pay, anna, strings.Repeat("k", 256), body)
	wantStatus(t, resp, http.StatusBadRequest)
	resp, _ = apiKeyed(c, http.MethodPost, pay, anna, "with space", body)
	wantStatus(t, resp, http.StatusBadRequest)
	booked(2)

	// After 24 hours the key is forgotten: the same request books again.
	clock.Set(clock.Now().Add(25 * time.Hour))
	resp, _ = apiKeyed(c, http.MethodPost, pay, anna, "pay-1", body)
	wantStatus(t, resp, http.StatusCreated)
	booked(3)
}
