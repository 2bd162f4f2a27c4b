package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"allmende/config"
	"allmende/models/account"
	"allmende/web"
)

// The login form carries next through; a value that would leave the site
// falls back to the home page, a path of this site is kept.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org")
	for next, want := range map[string]string{
		"/\t/evil.example":    "/",
		"//evil.example":      "/",
		"/\\evil.example":     "/",
		"https:evil":          "/",
		"javascript:alert(1)": "/",
		"/\r\n/evil":          "/",
		"":                    "/",
		"/account?tab=tokens": "/account?tab=tokens",
	} {
		c := newClient(t, base)
		_, body := c.get("/login?next=" + url.QueryEscape(next))
		m := csrfRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no csrf token on /login")
		}
		resp, _ := c.post("/login", url.Values{"_csrf": {m[1]}, "email": {"ada@example.org"},
			"password": {"correct horse battery"}, "next": {next}})
		wantStatus(t, resp, http.StatusSeeOther)
		if loc := resp.Header.Get("Location"); loc != want {
			t.Errorf("login with next=%q redirects to %q, want %q", next, loc, want)
		}
	}
}

// Pages, API answers and errors must not stay in the browser's cache for
// the back button after logout; static assets may.
func TestCacheControl(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "ada@example.org")
	c := newClient(t, base)
	wantStatus(t, c.login("ada@example.org", "correct horse battery"), http.StatusSeeOther)
	token := tokenFor(t, openDomain(t, cfg), "ada@example.org")
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{"/account", "", http.StatusOK},
		{"/", "", http.StatusOK},
		{"/login", "", http.StatusSeeOther},
		{"/no-such-page", "", http.StatusNotFound},
		{"/api/v1/me", token, http.StatusOK},
		{"/api/v1/me", "", http.StatusUnauthorized},
	} {
		resp, _ := c.api(http.MethodGet, tc.path, tc.token)
		wantStatus(t, resp, tc.status)
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("GET %s (token %v): Cache-Control %q, want no-store", tc.path, tc.token != "", cc)
		}
	}
	resp, _ := c.get("/static/app.css")
	wantStatus(t, resp, http.StatusOK)
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=3600" {
		t.Errorf("static asset: Cache-Control %q", cc)
	}
}

// Without --metrics-token or --metrics-listen, /metrics does not exist on
// the main listener and /readyz says only whether the portal is ready.
func TestMetricsNotPublic(t *testing.T) {
	_, base, _ := startServerWith(t, "none", func(cfg *web.Config) { cfg.MetricsToken = "" })
	c := newClient(t, base)
	// Through a reverse proxy (which names the client in a header) the
	// endpoint does not exist, with or without a guessed token.
	for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
		for _, token := range []string{"", "guess"} {
			req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set(h, "203.0.113.9")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("/metrics via proxy header %s (token %q): %d, want 404", h, token, resp.StatusCode)
			}
		}
	}
	// A scraper on this machine talking to the portal directly gets it.
	resp, body := c.get("/metrics")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "allmende_")
	resp, body = c.get("/readyz")
	wantStatus(t, resp, http.StatusOK)
	if strings.TrimSpace(body) != `{"status":"ready"}` {
		t.Errorf("public /readyz body %s", body)
	}
	resp, _ = c.get("/healthz")
	wantStatus(t, resp, http.StatusOK)
}

// With a token, /metrics and the details of /readyz need it; a session
// cookie (even an admin's) is not enough for /metrics.
func TestMetricsToken(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	c := newClient(t, base)
	for _, token := range []string{"", "wrong", testMetricsToken + "x"} {
		resp, body := c.api(http.MethodGet, "/metrics", token)
		wantStatus(t, resp, http.StatusUnauthorized)
		if strings.Contains(body, "allmende_") {
			t.Errorf("/metrics with token %q shows metrics", token)
		}
		_, body = c.api(http.MethodGet, "/readyz", token)
		if strings.Contains(body, "database") {
			t.Errorf("/readyz with token %q shows details: %s", token, body)
		}
	}
	c.login("admin@example.org", "correct horse battery")
	resp, _ := c.get("/metrics")
	wantStatus(t, resp, http.StatusUnauthorized)
	_, body := c.get("/readyz") // admins see the details
	wantContains(t, body, `"database":"ok"`)

	resp, body = c.api(http.MethodGet, "/metrics", testMetricsToken)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `allmende_http_requests_total{method="GET",route="/metrics",status="401"}`)
	resp, body = c.api(http.MethodGet, "/readyz", testMetricsToken)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"database":"ok"`)
}

// --metrics-listen serves /metrics, a detailed /readyz and /healthz on an
// address of its own, and nothing of the portal.
func TestMetricsListen(t *testing.T) {
	srv, base, _ := startServerWith(t, "none", func(cfg *web.Config) {
		cfg.MetricsToken, cfg.MetricsListen = "", "127.0.0.1:0"
	})
	c := newClient(t, base)
	c.get("/login")
	resp, _ := c.get("/metrics")
	wantStatus(t, resp, http.StatusNotFound)

	ops := newClient(t, "http://"+srv.MetricsAddr())
	resp, body := ops.get("/metrics")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `allmende_http_requests_total{method="GET",route="/login",status="200"} 1`)
	resp, body = ops.get("/readyz")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"database":"ok"`)
	resp, _ = ops.get("/healthz")
	wantStatus(t, resp, http.StatusOK)
	resp, _ = ops.get("/login")
	wantStatus(t, resp, http.StatusNotFound)
}

func TestMetricsFlags(t *testing.T) {
	t.Setenv("ALLMENDE_METRICS_TOKEN", "from-env")
	cfg, err := config.ParseFlags("serve", []string{"--data", t.TempDir(), "--metrics-listen", "127.0.0.1:9100"}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsListen != "127.0.0.1:9100" || cfg.MetricsToken != "from-env" {
		t.Errorf("metrics listen %q, token %q", cfg.MetricsListen, cfg.MetricsToken)
	}
	cfg, err = config.ParseFlags("serve", []string{"--data", t.TempDir(), "--metrics-token", "from-flag"}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsListen != "" || cfg.MetricsToken != "from-flag" {
		t.Errorf("metrics listen %q, token %q", cfg.MetricsListen, cfg.MetricsToken)
	}
}
