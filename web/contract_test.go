package web_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/web"
)

// TestIdempotencyHeadersDocumented walks the routes and the document: every
// API route that honours an Idempotency-Key (found by asking it twice under
// one key and getting Idempotent-Replayed: true back) is an operation that
// documents the Idempotency-Key header and the Idempotent-Replayed answer
// header on every answer a replay can repeat, and no other operation
// documents them. The replayed answers themselves, refusals and successes
// (201 with a body, 204 without), pass the client's contract check, which
// refuses a header the document does not declare.
func TestIdempotencyHeadersDocumented(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	// Every role, so no route refuses before the key is looked at.
	createUser(t, srv, "all@example.org", account.RoleAdmin, account.RoleBoard, account.RoleMember,
		account.RoleSupervisory, account.RoleAppeals, account.RoleModerator)
	d := openDomain(t, cfg)
	tok := tokenFor(t, d, "all@example.org")
	c := newClient(t, base)
	ct, err := contract()
	if err != nil {
		t.Fatal(err)
	}

	// What the document says.
	documented := map[string]bool{}
	for path, item := range ct.doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := op.Parameters.GetByInAndName("header", "Idempotency-Key")
			if key == nil {
				continue
			}
			documented[method+" "+path] = true
			if key.Description == "" {
				t.Errorf("%s %s: the Idempotency-Key header has no description", method, path)
			}
			for status, r := range op.Responses.Map() {
				h := r.Value.Headers["Idempotent-Replayed"]
				switch {
				case replayable(status) && (h == nil || h.Value.Description == ""):
					t.Errorf("%s %s: the answer %s can be replayed but does not declare Idempotent-Replayed with a description", method, path, status)
				case !replayable(status) && h != nil:
					t.Errorf("%s %s: the answer %s is never kept for a replay but declares Idempotent-Replayed", method, path, status)
				}
			}
		}
	}
	if len(documented) == 0 {
		t.Fatal("the document has no operation with an Idempotency-Key")
	}

	// What the routes do: each changing API route is asked twice under one
	// key, with an empty object and ids that do not exist, so it refuses
	// (404, 422) and changes nothing; a route that keeps the answer replays
	// it.
	e := srv.Handler().(*echo.Echo)
	param := regexp.MustCompile(`:([a-z_]+)`)
	honoured := map[string]bool{}
	for i, r := range e.Routes() {
		path, ok := strings.CutPrefix(r.Path, "/api/v1")
		if !ok || r.Method == http.MethodGet || r.Method == echo.RouteNotFound || strings.HasSuffix(path, "*") {
			continue
		}
		url := "/api/v1" + param.ReplaceAllString(path, "01a235c4-55b3-77ca-9175-3d3d0f56eda8")
		key := fmt.Sprintf("probe-%d", i)
		first, _ := apiKeyed(c, r.Method, url, tok, key, "{}")
		again, _ := apiKeyed(c, r.Method, url, tok, key, "{}")
		if first.StatusCode >= 500 {
			t.Errorf("%s %s: %d; a server error is never kept, so the probe cannot tell whether it honours the key", r.Method, url, first.StatusCode)
		}
		if again.Header.Get("Idempotent-Replayed") == "true" {
			honoured[r.Method+" "+param.ReplaceAllString(path, "{$1}")] = true
		} else if again.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("%s %s: Idempotent-Replayed %q", r.Method, url, again.Header.Get("Idempotent-Replayed"))
		}
	}
	for op := range honoured {
		if !documented[op] {
			t.Errorf("%s honours an Idempotency-Key, but the document does not say so", op)
		}
	}
	for op := range documented {
		if !honoured[op] {
			t.Errorf("the document gives %s an Idempotency-Key, but it does not replay", op)
		}
	}
	t.Logf("operations that honour an Idempotency-Key: %v", sortedKeys(honoured))

	// Replayed successes: a cost (201 with a body), its reversal (204, no
	// body and no content type).
	cost := `{"month":"2026-11","category":"housing","amount_cents":94200}`
	resp, body := apiKeyed(c, http.MethodPost, "/api/v1/board/costs", tok, "cost-1", cost)
	wantStatus(t, resp, http.StatusCreated)
	resp, again := apiKeyed(c, http.MethodPost, "/api/v1/board/costs", tok, "cost-1", cost)
	wantStatus(t, resp, http.StatusCreated)
	if resp.Header.Get("Idempotent-Replayed") != "true" || again != body {
		t.Errorf("replayed cost: %q (Idempotent-Replayed %q), want %q", again, resp.Header.Get("Idempotent-Replayed"), body)
	}
	id := decode[struct {
		ID string `json:"id"`
	}](t, body).ID
	for i := range 2 {
		resp, body = apiKeyed(c, http.MethodPost, "/api/v1/board/costs/"+id+"/reverse", tok, "reverse-1", "")
		wantStatus(t, resp, http.StatusNoContent)
		if replayed := resp.Header.Get("Idempotent-Replayed") == "true"; replayed != (i == 1) || body != "" {
			t.Errorf("reversal %d: replayed %v, body %q", i+1, replayed, body)
		}
	}
	if n := d.count(t, "running_costs", ""); n != 2 {
		t.Errorf("running cost rows = %d, want the cost and one reversal", n)
	}
}

// replayable says whether an answer with this status can be kept for a
// replay (handlers.Idempotent): the sign-in and role checks (401, 403)
// answer before the key is looked at, a body over the limit (413) before
// it is kept, and a server error is never kept.
func replayable(status string) bool {
	return status != "401" && status != "403" && status != "413" && !strings.HasPrefix(status, "5")
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}

// TestSEPAFileThroughAPI receives the SEPA direct-debit file through the
// API: three members ran a VM through November, two of them gave a
// mandate with their application (one for an account of someone else);
// the board closes November and fetches the pain.008. The file parses, has
// one debit per mandate (the member without one is left out) of the
// statement's total, to the mandate's IBAN under ALLMENDE-M<member number>
// signed on the day of the application, and the count and control sum
// add up in both places; the answer's content type and Content-Disposition
// are the document's.
func TestSEPAFileThroughAPI(t *testing.T) {
	clock := models.NewManualClock(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
	srv, base, cfg := startServerWith(t, "none", func(c *web.Config) { c.Clock = clock })
	d := openDomain(t, cfg)
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	board, ben := tokenFor(t, d, "anna@board.example"), tokenFor(t, d, "ben@board.example")
	c := newClient(t, base)

	type member struct {
		email, name, mandate string // mandate: the JSON fields, or "" for none
		iban, holder         string // what the debit must say
		userID, id           string
		number               int64
	}
	members := []*member{
		{email: "eva@example.org", name: "Eva Müller", mandate: `,"sepa_mandate":true,"iban":"de02 1203 0000 0000 2020 51","account_holder":"Jörg Müller"`,
			iban: "DE02120300000000202051", holder: "Joerg Mueller"},
		{email: "finn@example.org", name: "Finn Berg", mandate: `,"sepa_mandate":true,"iban":"DE02 5001 0517 0137 0750 30","account_holder":"Finn Berg"`,
			iban: "DE02500105170137075030", holder: "Finn Berg"},
		{email: "gus@example.org", name: "Gus Ohne"},
	}
	oct := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	db := srv.DB()
	for _, row := range []any{
		&compute.Host{ID: "h1", Name: "node-a", URI: "test:///default", Role: compute.HostRoleCompute, CreatedAt: oct, UpdatedAt: oct,
			Reachable: true, CPUs: 8, MemoryBytes: 16 << 30, Pools: `[{"name":"default","active":true,"capacity_bytes":107374182400}]`},
		&compute.Plan{ID: "p1", Name: "small", VCPUs: 1, MemoryMiB: 1024, DiskGiB: 10, CreatedAt: oct, UpdatedAt: oct},
		&compute.Plan{ID: "p2", Name: "big", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 80, CreatedAt: oct, UpdatedAt: oct},
		&compute.Image{ID: "i1", Name: "img", HostID: "h1", Pool: "default", Volume: "img", Format: "raw", Status: "ready", CreatedAt: oct, UpdatedAt: oct},
	} {
		if err := db.Gorm.Create(row).Error; err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range members {
		createUser(t, srv, m.email)
		tok := tokenFor(t, d, m.email)
		apply := strings.Replace(strings.Replace(joinJSON, "Grace Hopper", m.name, 1), `"shares":3`, `"shares":1`+m.mandate, 1)
		resp, body := apiJSON(c, http.MethodPost, "/api/v1/membership/application", tok, apply)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s's application: %d %s", m.name, resp.StatusCode, body)
		}
		m.id = decode[struct {
			ID string `json:"id"`
		}](t, body).ID
		for _, admit := range []string{board, ben} {
			resp, _ = apiJSON(c, http.MethodPost, "/api/v1/applications/"+m.id+"/admit", admit, "")
			wantStatus(t, resp, http.StatusOK)
		}
		resp, body = c.api(http.MethodGet, "/api/v1/membership", tok)
		wantStatus(t, resp, http.StatusOK)
		ov := decode[memberOverviewJSON](t, body)
		if ov.Membership.MemberNumber == nil || ov.Membership.Status != "member" {
			t.Fatalf("%s is not admitted: %s", m.email, body)
		}
		m.number = *ov.Membership.MemberNumber
		if err := db.Gorm.Table("users").Where("email = ?", m.email).Pluck("id", &m.userID).Error; err != nil {
			t.Fatal(err)
		}
		plan := []string{"p2", "p1", "p1"}[i]
		vm := &compute.VM{ID: fmt.Sprintf("vm%d", i), OwnerID: m.userID, Name: fmt.Sprintf("vm-%d", i), State: compute.VMRunning, PlanID: plan,
			ImageID: "i1", HostID: "h1", MAC: fmt.Sprintf("52:54:00:00:00:%02x", i+1), ShutdownTimeoutSeconds: 60, AutoRestart: true,
			CreatedAt: oct, UpdatedAt: oct}
		if err := db.Gorm.Create(vm).Error; err != nil {
			t.Fatal(err)
		}
	}

	resp, body := apiJSON(c, http.MethodPost, "/api/v1/board/statements/close", board, `{"month":"2026-11"}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"new_statements":3`)
	resp, body = c.api(http.MethodGet, "/api/v1/board/statements?month=2026-11", board)
	wantStatus(t, resp, http.StatusOK)
	var month struct {
		Statements []struct {
			ID         string `json:"id"`
			TotalCents int64  `json:"total_cents"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(body), &month); err != nil || len(month.Statements) != 3 {
		t.Fatalf("November's statements: %v %s", err, body)
	}
	// A debit names its statement in the end-to-end id (at most 35
	// characters).
	totals := map[string]int64{}
	for _, s := range month.Statements {
		if s.TotalCents <= 0 {
			t.Fatalf("statement %s totals %d: the test needs amounts owed", s.ID, s.TotalCents)
		}
		totals[("ALLMENDE-2026-11-" + strings.ReplaceAll(s.ID, "-", ""))[:35]] = s.TotalCents
	}

	sepa := `{"month":"2026-11","creditor_name":"Allmende eG","creditor_iban":"DE89 3704 0044 0532 0130 00","creditor_id":"DE98ZZZ09999999999","collection_date":"2026-12-10"}`
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/board/statements/sepa", board, sepa)
	wantStatus(t, resp, http.StatusOK)

	// The content type is one the document lists for the answer (checkAPI
	// holds the body to it as well), and the file comes as a download.
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/xml" || params["charset"] != "utf-8" {
		t.Errorf("Content-Type %q (%v), want application/xml; charset=utf-8", resp.Header.Get("Content-Type"), err)
	}
	ct, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	documented := ct.doc.Paths.Find("/board/statements/sepa").Post.Responses.Status(http.StatusOK).Value
	if documented.Content.Get(resp.Header.Get("Content-Type")) == nil {
		t.Errorf("the document's 200 lists %v, not %q", slices.Collect(maps.Keys(documented.Content)), resp.Header.Get("Content-Type"))
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="allmende-2026-11-pain.008.xml"` {
		t.Errorf("Content-Disposition %q", cd)
	}

	var f modelstest.PainFile
	if err := xml.Unmarshal([]byte(body), &f); err != nil {
		t.Fatalf("the file does not parse as pain.008.001.08: %v\n%.500s", err, body)
	}
	if f.Pmt.SeqTp != "RCUR" || f.Pmt.Date != "2026-12-10" || f.Pmt.CdtrIBAN != "DE89370400440532013000" || f.Pmt.CdtrID != "DE98ZZZ09999999999" {
		t.Errorf("payment information: %+v", f.Pmt)
	}
	var sum int64
	byIBAN := map[string]bool{}
	for _, tx := range f.Pmt.Txs {
		want, ok := totals[tx.E2E]
		if !ok {
			t.Errorf("debit %q names no statement of November", tx.E2E)
		}
		cents := parseEuros(t, tx.Amt.Value)
		if tx.Amt.Ccy != "EUR" || cents != want {
			t.Errorf("debit %s: %s %s, want the statement's total %d cents", tx.E2E, tx.Amt.Value, tx.Amt.Ccy, want)
		}
		sum += cents
		byIBAN[tx.IBAN] = true
		var m *member
		for _, cand := range members {
			if cand.iban == tx.IBAN {
				m = cand
			}
		}
		if m == nil {
			t.Errorf("debit %s from %s, which no mandate gave", tx.E2E, tx.IBAN)
			continue
		}
		if tx.MndtID != fmt.Sprintf("ALLMENDE-M%06d", m.number) || tx.Signed != "2026-12-01" || tx.Dbtr != m.holder {
			t.Errorf("debit from %s: mandate %q signed %q by %q, want ALLMENDE-M%06d, 2026-12-01, %q", tx.IBAN, tx.MndtID, tx.Signed, tx.Dbtr, m.number, m.holder)
		}
	}
	if len(f.Pmt.Txs) != 2 || !byIBAN[members[0].iban] || !byIBAN[members[1].iban] {
		t.Errorf("debits from %v, want one from each of the two mandates", byIBAN)
	}
	if f.Hdr.NbOfTxs != len(f.Pmt.Txs) || f.Pmt.NbOfTxs != len(f.Pmt.Txs) {
		t.Errorf("NbOfTxs %d and %d, the file has %d", f.Hdr.NbOfTxs, f.Pmt.NbOfTxs, len(f.Pmt.Txs))
	}
	if parseEuros(t, f.Hdr.CtrlSum) != sum || parseEuros(t, f.Pmt.CtrlSum) != sum {
		t.Errorf("CtrlSum %s and %s, the debits add up to %d cents", f.Hdr.CtrlSum, f.Pmt.CtrlSum, sum)
	}
}

var eurosRE = regexp.MustCompile(`^([0-9]+)\.([0-9]{2})$`)

// parseEuros reads an amount as pain.008 writes it (two decimals, a point).
func parseEuros(t *testing.T, s string) int64 {
	t.Helper()
	m := eurosRE.FindStringSubmatch(s)
	if m == nil {
		t.Errorf("amount %q is not of the form 12.34", s)
		return -1
	}
	euros, _ := strconv.ParseInt(m[1], 10, 64)
	cents, _ := strconv.ParseInt(m[2], 10, 64)
	return euros*100 + cents
}

// TestAPIMethodsAsDocumented sends what belongs to no operation — OPTIONS,
// a method a path does not have, HEAD — and lets the client's contract
// check hold the answers to the document: Allow names exactly the
// document's methods of the path (with HEAD and OPTIONS), the 405 is its
// MethodNotAllowed response, and HEAD has GET's status and headers.
func TestAPIMethodsAsDocumented(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "member@example.org", account.RoleMember)
	tok := tokenFor(t, openDomain(t, cfg), "member@example.org")
	c := newClient(t, base)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodOptions, "/api/v1/ssh-keys", http.StatusNoContent},
		{http.MethodOptions, "/api/v1/vms/01a235c4-55b3-77ca-9175-3d3d0f56eda8", http.StatusNoContent},
		{http.MethodPut, "/api/v1/vms/01a235c4-55b3-77ca-9175-3d3d0f56eda8", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/api/v1/board/statements/sepa", http.StatusMethodNotAllowed},
		{http.MethodPatch, "/api/v1/me", http.StatusMethodNotAllowed},
		{http.MethodHead, "/api/v1/me", http.StatusOK},
		{http.MethodHead, "/api/v1/vms/01a235c4-55b3-77ca-9175-3d3d0f56eda8", http.StatusNotFound},
	} {
		resp, _ := c.api(tc.method, tc.path, tok)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}
