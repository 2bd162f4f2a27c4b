package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"allmende/handlers"
	"allmende/models/account"
)

func decodeAPIError(t *testing.T, body string) handlers.APIErrorBody {
	t.Helper()
	var e handlers.APIError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body is not JSON: %q", body)
	}
	return e.Error
}

var newTokenRE = regexp.MustCompile(`<code id="new-token">([^<]+)</code>`)

func TestAPITokens(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "member@example.org", account.RoleMember)
	c := newClient(t, base)

	resp, body := c.api(http.MethodGet, "/api/v1/me", "")
	wantStatus(t, resp, http.StatusUnauthorized)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("401 content type %q", ct)
	}
	if e := decodeAPIError(t, body); e.Status != 401 || e.Code != "unauthorized" || e.Message == "" {
		t.Errorf("401 body = %+v", e)
	}
	resp, body = c.api(http.MethodGet, "/api/v1/me", "alm_forged")
	wantStatus(t, resp, http.StatusUnauthorized)
	decodeAPIError(t, body)

	// A token made in the UI is shown once and works.
	c.login("member@example.org", "correct horse battery")
	resp, body = c.submit("/account", "/account/tokens", url.Values{"name": {"script"}})
	wantStatus(t, resp, http.StatusCreated)
	m := newTokenRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("new token not shown")
	}
	token := m[1]
	_, body = c.get("/account")
	if strings.Contains(body, token) {
		t.Error("token secret shown a second time")
	}
	resp, body = c.api(http.MethodGet, "/api/v1/me", token)
	wantStatus(t, resp, http.StatusOK)
	var me struct {
		Email string   `json:"email"`
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal([]byte(body), &me); err != nil || me.Email != "member@example.org" || len(me.Roles) != 1 || me.Roles[0] != "member" {
		t.Errorf("/me = %s", body)
	}
	resp, body = c.api(http.MethodGet, "/api/v1/hosts", token)
	wantStatus(t, resp, http.StatusForbidden)
	if e := decodeAPIError(t, body); e.Code != "forbidden" {
		t.Errorf("403 body = %+v", e)
	}
	resp, body = c.api(http.MethodGet, "/api/v1/nope", token)
	wantStatus(t, resp, http.StatusNotFound)
	decodeAPIError(t, body)

	// Revoked, it stops working.
	_, body = c.get("/account")
	rev := regexp.MustCompile(`action="(/account/tokens/[^"]+/revoke)"`).FindStringSubmatch(body)
	if rev == nil {
		t.Fatal("no revoke button")
	}
	resp, _ = c.submit("/account", rev[1], url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = c.api(http.MethodGet, "/api/v1/me", token)
	wantStatus(t, resp, http.StatusUnauthorized)
}

// Every path in the OpenAPI document must be served (asking without a token
// gives 401, not 404), so the contract cannot drift from the routes. Public
// operations (security: [], the abuse intake) answer without a token, and
// not with the catch-all's 404.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	_, base, _ := startServer(t, "none")
	c := newClient(t, base)
	resp, body := c.get("/api/v1/openapi.json")
	wantStatus(t, resp, http.StatusOK)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) < 2 {
		t.Fatalf("document: %+v", doc)
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			var sec struct {
				Security *[]any `json:"security"`
			}
			_ = json.Unmarshal(op, &sec)
			resp, body := c.api(strings.ToUpper(method), "/api/v1"+path, "")
			if sec.Security != nil && len(*sec.Security) == 0 {
				if resp.StatusCode == http.StatusUnauthorized || (resp.StatusCode == http.StatusNotFound && !strings.Contains(body, "report not found")) {
					t.Errorf("public %s %s: %d %s", method, path, resp.StatusCode, body)
				}
				continue
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s without token: %d, want 401", method, path, resp.StatusCode)
			}
		}
	}
}

func TestMetricsAndHealth(t *testing.T) {
	_, base, _ := startServer(t, "none")
	c := newClient(t, base)
	c.get("/login")
	c.get("/missing")
	resp, _ := c.get("/healthz")
	wantStatus(t, resp, http.StatusOK)
	resp, body := c.api(http.MethodGet, "/readyz", testMetricsToken)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"database":"ok"`)
	resp, body = c.api(http.MethodGet, "/metrics", testMetricsToken)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body,
		`allmende_http_requests_total{method="GET",route="/login",status="200"} 1`,
		`allmende_http_requests_total{method="GET",route="unmatched",status="404"}`,
		`allmende_http_request_duration_seconds_bucket{method="GET",route="/login"`,
		`allmende_jobs{state="available"}`)
}

// And the other way round: every API route is in the document.
func TestEveryAPIRouteIsDocumented(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	_, body := newClient(t, base).get("/api/v1/openapi.json")
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	e, ok := srv.Handler().(*echo.Echo)
	if !ok {
		t.Fatalf("handler is %T", srv.Handler())
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	for _, r := range e.Routes() {
		path, ok := strings.CutPrefix(r.Path, "/api/v1")
		if !ok || path == "/openapi.json" || strings.HasSuffix(path, "*") || r.Method == echo.RouteNotFound {
			continue
		}
		path = param.ReplaceAllString(path, "{$1}")
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s /api/v1%s is not in the OpenAPI document", r.Method, path)
		}
	}
}
