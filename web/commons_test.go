package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/metering"
	"allmende/web"
)

// Through the router: the board enters costs (bad ones come back as a form
// error, nothing stored), closes November twice (once counts), corrects a
// statement with a new line; a member reads only their own statement (page,
// CSV), another gets 404 and cannot reach the board's pages; /commons
// shows no one's name; /metrics carries host metrics labelled by host only.
func TestStatementsCostsAndCommonsThroughRouter(t *testing.T) {
	// One hour into December: November is over, so the board may close it,
	// but the monthly job does not close it by itself yet (it waits two
	// hours), which would race with the rows this test inserts.
	clock := models.NewManualClock(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
	srv, base, _ := startServerWith(t, "none", func(c *web.Config) { c.Clock = clock })
	ctx := context.Background()
	createUser(t, srv, "alice@example.org", account.RoleMember)
	createUser(t, srv, "bob@example.org", account.RoleMember)
	createUser(t, srv, "board@example.org", account.RoleBoard)
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

	board := newClient(t, base)
	wantStatus(t, board.login("board@example.org", "correct horse battery"), http.StatusSeeOther)
	resp, body := board.submit("/board/statements?month=2026-11", "/board/costs", url.Values{"month": {"2026-11"}, "category": {"housing"}, "amount": {"-5"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Costs are positive")
	if n := count(t, db, "running_costs"); n != 0 {
		t.Fatalf("a refused cost left %d rows", n)
	}
	resp, _ = board.submit("/board/statements?month=2026-11", "/board/costs", url.Values{"month": {"2026-11"}, "category": {"housing"}, "amount": {"942.00"}})
	wantStatus(t, resp, http.StatusSeeOther)
	for i := 0; i < 2; i++ {
		resp, _ = board.submit("/board/statements?month=2026-11", "/board/statements/close", url.Values{"month": {"2026-11"}})
		wantStatus(t, resp, http.StatusSeeOther)
	}
	if n := count(t, db, "statements"); n != 1 {
		t.Fatalf("statements after closing twice: %d, want 1", n)
	}
	_, body = board.get("/board/statements?month=2026-11")
	wantContains(t, body, "Test alice@example.org", "The month is closed.")
	var stID string
	db.Gorm.Table("statements").Pluck("id", &stID)

	alice := newClient(t, base)
	wantStatus(t, alice.login("alice@example.org", "correct horse battery"), http.StatusSeeOther)
	resp, body = alice.get("/statements/" + stID)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "VM-hours, plan small", "720.000 h") // all of November
	resp, body = alice.get("/statements/" + stID + "/csv")
	wantStatus(t, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("CSV content type %q", ct)
	}
	wantContains(t, body, "position,kind,description", "vm_hours", ",total,")
	_, body = alice.get("/statements")
	wantContains(t, body, "2026-12 so far", "1.000 h") // December 1st, 01:00

	resp, _ = board.submit("/statements/"+stID, "/board/statements/"+stID+"/corrections",
		url.Values{"description": {"Outage on the 3rd"}, "amount_abs": {"1.00"}, "direction": {"credit"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = alice.get("/statements/" + stID)
	wantContains(t, body, "Outage on the 3rd", `data-kind="correction"`)

	bob := newClient(t, base)
	wantStatus(t, bob.login("bob@example.org", "correct horse battery"), http.StatusSeeOther)
	for _, path := range []string{"/statements/" + stID, "/statements/" + stID + "/csv", "/vms/vm1/metrics"} {
		resp, _ = bob.get(path)
		wantStatus(t, resp, http.StatusNotFound)
	}
	resp, _ = bob.get("/board/statements")
	wantStatus(t, resp, http.StatusForbidden)

	// The board's month as JSON; a member's token gets 403.
	tokens := account.NewTokens(db, srv.Accounts)
	tokenOf := func(email string) string {
		var id string
		db.Gorm.Table("users").Where("email = ?", email).Pluck("id", &id)
		_, tok, err := tokens.Create(ctx, models.SystemActor("test"), id, "t")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	resp, body = board.api(http.MethodGet, "/api/v1/board/statements?month=2026-11", tokenOf("board@example.org"))
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"closed":true`, `"costs_cents":94200`, `"member_name":"Test alice@example.org"`)
	bobTok, aliceTok := tokenOf("bob@example.org"), tokenOf("alice@example.org")
	resp, _ = bob.api(http.MethodGet, "/api/v1/board/statements?month=2026-11", bobTok)
	wantStatus(t, resp, http.StatusForbidden)

	// The API twins, each checked against the OpenAPI document by the client.
	resp, body = alice.api(http.MethodGet, "/api/v1/statements", aliceTok)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, stID, `"total_cents"`)
	resp, _ = alice.api(http.MethodGet, "/api/v1/statements/"+stID, aliceTok)
	wantStatus(t, resp, http.StatusOK)
	resp, _ = bob.api(http.MethodGet, "/api/v1/statements/"+stID, bobTok)
	wantStatus(t, resp, http.StatusNotFound)
	resp, body = bob.api(http.MethodGet, "/api/v1/commons", bobTok)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"capacity"`, `"coverage"`)
	resp, _ = bob.api(http.MethodGet, "/api/v1/commons/hosts/h1/metrics?range=24h", bobTok)
	wantStatus(t, resp, http.StatusOK)
	resp, _ = alice.api(http.MethodGet, "/api/v1/vms/vm1/metrics?range=7d", aliceTok)
	wantStatus(t, resp, http.StatusOK)
	resp, _ = alice.api(http.MethodGet, "/api/v1/vms/vm1/metrics?range=1y", aliceTok)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	resp, _ = bob.api(http.MethodGet, "/api/v1/vms/vm1/metrics", bobTok)
	wantStatus(t, resp, http.StatusNotFound)
	resp, body = bob.get("/commons")
	wantStatus(t, resp, http.StatusOK)
	main := body[strings.Index(body, "<main"):]
	for _, secret := range []string{"alice", "alices-vm", aliceID} {
		if strings.Contains(main, secret) {
			t.Errorf("/commons shows %q", secret)
		}
	}
	wantContains(t, main, "€942.00", "node-a")

	// Host metrics on /metrics, labelled by host, never by VM.
	m := metering.NewMetrics(db)
	now := time.Now()
	for i, cpu := range []uint64{1e12, 1e12 + 15e9} {
		if _, err := m.Record(ctx, "h1", metering.Reading{At: now.Add(time.Duration(i-2) * 15 * time.Second), HostCPUTimeNs: cpu,
			HostMemoryBytes: 16 << 30, HostFreeBytes: 8 << 30, VMs: []metering.VMReading{{VMID: "vm1", CPUTimeNs: cpu / 10}}}); err != nil {
			t.Fatal(err)
		}
	}
	resp, body = board.api(http.MethodGet, "/metrics", testMetricsToken)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `allmende_host_cpu_used_cores{host="node-a"} 1`, `allmende_host_memory_used_bytes{host="node-a"} 8.589934592e+09`,
		`allmende_host_vm_network_bytes_per_second{direction="receive",host="node-a"} 0`)
	if regexp.MustCompile(`allmende_host_[a-z_]+\{[^}]*vm=`).MatchString(body) {
		t.Error("a host metric carries a VM label")
	}
}

func count(t *testing.T, db *models.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Gorm.Table(table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
