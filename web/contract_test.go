package web_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"allmende/models/account"
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
