package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
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
