package web_test

import (
	"net/http"
	"net/url"
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
