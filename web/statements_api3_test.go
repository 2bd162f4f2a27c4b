package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/web"
)

// The board's statements page through the API: running costs entered (a
// negative one refused), listed and reversed once; November closed twice
// (once counts); a statement corrected by a new line, under an
// Idempotency-Key so a repeat adds no second line; the SEPA file of the
// closed month is refused while no member owes by mandate, and before the
// month is closed. Members get 403 on each.
func TestBoardStatementsAPI3(t *testing.T) {
	clock := models.NewManualClock(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
	srv, base, cfg := startServerWith(t, "none", func(c *web.Config) { c.Clock = clock })
	createUser(t, srv, "alice@example.org", account.RoleMember)
	createUser(t, srv, "board@example.org", account.RoleBoard)
	d := openDomain(t, cfg)
	db := srv.DB()
	var aliceID string
	if err := db.Gorm.Table("users").Where("email = ?", "alice@example.org").Pluck("id", &aliceID).Error; err != nil {
		t.Fatal(err)
	}
	oct := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	host := &compute.Host{ID: "h1", Name: "node-a", URI: "test:///default", Role: compute.HostRoleCompute, CreatedAt: oct, UpdatedAt: oct,
		Reachable: true, CPUs: 8, MemoryBytes: 16 << 30, Pools: `[{"name":"default","active":true,"capacity_bytes":107374182400}]`}
	plan := &compute.Plan{ID: "p1", Name: "small", VCPUs: 1, MemoryMiB: 1024, DiskGiB: 10, CreatedAt: oct, UpdatedAt: oct}
	img := &compute.Image{ID: "i1", Name: "img", HostID: "h1", Pool: "default", Volume: "img", Format: "raw", Status: "ready", CreatedAt: oct, UpdatedAt: oct}
	vm := &compute.VM{ID: "vm1", OwnerID: aliceID, Name: "alices-vm", State: compute.VMRunning, PlanID: "p1", ImageID: "i1", HostID: "h1",
		MAC: "52:54:00:00:00:01", ShutdownTimeoutSeconds: 60, AutoRestart: true, CreatedAt: oct, UpdatedAt: oct}
	for _, row := range []any{host, plan, img, vm} {
		if err := db.Gorm.Create(row).Error; err != nil {
			t.Fatal(err)
		}
	}
	board, alice := tokenFor(t, d, "board@example.org"), tokenFor(t, d, "alice@example.org")
	c := newClient(t, base)

	// Running costs.
	resp, body := apiJSON(c, http.MethodPost, "/api/v1/board/costs", board, `{"month":"2026-11","category":"housing","amount_cents":-500}`)
	wantFieldError(t, resp, body, "amount_cents")
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/board/costs", board, `{"month":"2026-11","category":"yachts","amount_cents":500}`)
	wantFieldError(t, resp, body, "category")
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/board/costs", alice, `{"month":"2026-11","category":"housing","amount_cents":94200}`)
	wantStatus(t, resp, http.StatusForbidden)
	if n := d.count(t, "running_costs", ""); n != 0 {
		t.Fatalf("refused costs left %d rows", n)
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/board/costs", board, `{"month":"2026-11","category":"housing","amount_cents":94200,"note":"rack"}`)
	wantStatus(t, resp, http.StatusCreated)
	cost := decode[struct {
		ID string `json:"id"`
	}](t, body)
	resp, body = c.api(http.MethodGet, "/api/v1/board/costs", board)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"amount_cents":94200`, `"category":"housing"`)
	resp, _ = c.api(http.MethodGet, "/api/v1/board/costs", alice)
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/board/costs/"+cost.ID+"/reverse", alice, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/board/costs/"+cost.ID+"/reverse", board, "")
	wantStatus(t, resp, http.StatusNoContent)
	if n := d.count(t, "running_costs", "amount_cents = -94200"); n != 1 {
		t.Fatalf("reversal rows = %d, want 1", n)
	}
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/board/costs", board, `{"month":"2026-11","category":"housing","amount_cents":94200}`)
	wantStatus(t, resp, http.StatusCreated)

	// The SEPA file is for closed months only.
	sepa := `{"month":"2026-11","creditor_name":"Allmende eG","creditor_iban":"DE89 3704 0044 0532 0130 00","creditor_id":"DE98ZZZ09999999999","collection_date":"2026-12-10"}`
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/board/statements/sepa", board, sepa)
	wantStatus(t, resp, http.StatusConflict)

	// Closing: a month not over, a member, then twice.
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/board/statements/close", board, `{"month":"2026-12"}`)
	wantFieldError(t, resp, body, "month")
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/board/statements/close", alice, `{"month":"2026-11"}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/board/statements/close", board, `{"month":"2026-11"}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"new_statements":1`)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/board/statements/close", board, `{"month":"2026-11"}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"new_statements":0`)
	var stID string
	db.Gorm.Table("statements").Pluck("id", &stID)

	// A correction, sent twice under one key: one new line.
	corr := "/api/v1/statements/" + stID + "/corrections"
	resp, body = apiJSON(c, http.MethodPost, corr, board, `{"description":"Outage","amount_cents":0}`)
	wantFieldError(t, resp, body, "amount_cents")
	resp, _ = apiJSON(c, http.MethodPost, corr, alice, `{"description":"Outage","amount_cents":-100}`)
	wantStatus(t, resp, http.StatusForbidden)
	var first string
	for i := range 2 {
		resp, body = apiKeyed(c, http.MethodPost, corr, board, "corr-1", `{"description":"Outage on the 3rd","amount_cents":-100}`)
		wantStatus(t, resp, http.StatusCreated)
		wantContains(t, body, `"kind":"correction"`, `"amount_cents":-100`)
		if i == 1 && body != first {
			t.Errorf("repeated correction answered %s, want %s", body, first)
		}
		first = body
	}
	if n := d.count(t, "statement_lines", "kind = 'correction'"); n != 1 {
		t.Errorf("correction lines = %d, want 1", n)
	}

	// The closed month's file: a bad creditor is a field error; Alice has
	// no SEPA mandate, so there is nothing to collect.
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/board/statements/sepa", board, strings.Replace(sepa, "DE98ZZZ09999999999", "nope", 1))
	wantFieldError(t, resp, body, "creditor_id")
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/board/statements/sepa", alice, sepa)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/board/statements/sepa", board, sepa)
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "No member with a SEPA mandate")
}
