package web_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"allmende/models/account"
)

// TestWrongMethodAnswers405 checks that a method a path does not have is
// answered 405 with an Allow header — on the API and on pages — and that a
// path nobody serves is still a 404.
func TestWrongMethodAnswers405(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "member@example.org", account.RoleMember)
	c := newClient(t, base)
	for _, tc := range []struct{ method, path, allow string }{
		{"TRACE", "/api/v1/me", "GET"},
		{http.MethodDelete, "/api/v1/me", "GET"},
		{http.MethodPut, "/login", "POST"},
		{http.MethodDelete, "/account", "GET"},
	} {
		resp, body := c.api(tc.method, tc.path, "")
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 405", tc.method, tc.path, resp.StatusCode)
			continue
		}
		if allow := resp.Header.Get("Allow"); !strings.Contains(allow, tc.allow) {
			t.Errorf("%s %s: Allow %q lacks %s", tc.method, tc.path, allow, tc.allow)
		}
		if strings.HasPrefix(tc.path, "/api/") {
			if e := decodeAPIError(t, body); e.Status != 405 {
				t.Errorf("%s %s: error body %+v", tc.method, tc.path, e)
			}
		}
	}
	for _, p := range []string{"/api/v1/nothing-here", "/nothing-here"} {
		resp, _ := c.get(p)
		wantStatus(t, resp, http.StatusNotFound)
	}
}

// TestHeadWhereGet checks that HEAD answers like GET, without a body.
func TestHeadWhereGet(t *testing.T) {
	_, base, _ := startServer(t, "none")
	c := newClient(t, base)
	for _, p := range []string{"/login", "/healthz", "/static/app.css"} {
		resp, body := c.api(http.MethodHead, p, "")
		wantStatus(t, resp, http.StatusOK)
		if body != "" {
			t.Errorf("HEAD %s sent a body of %d bytes", p, len(body))
		}
	}
	resp, _ := c.api(http.MethodHead, "/api/v1/me", "")
	wantStatus(t, resp, http.StatusUnauthorized)
}

var stylesheetRE = regexp.MustCompile(`href="(/static/app\.[0-9a-f]{10}\.css)"`)

// TestDelivery checks compression, content-hashed immutable assets, the
// favicon and the meta description.
func TestDelivery(t *testing.T) {
	_, base, _ := startServer(t, "none")
	// A transport that does not ask for gzip by itself, so the test sees
	// the raw answer.
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	req, _ := http.NewRequest(http.MethodGet, base+"/login", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := raw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if enc := resp.Header.Get("Content-Encoding"); enc != "gzip" {
		t.Fatalf("/login Content-Encoding %q, want gzip", enc)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	wantContains(t, page, `<meta name="description"`, `rel="icon"`)
	// An answer under a kilobyte is sent as it is: compressing it saves
	// no packet and costs the CPU.
	req, _ = http.NewRequest(http.MethodGet, base+"/healthz", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	small, err := raw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	small.Body.Close()
	if enc := small.Header.Get("Content-Encoding"); enc != "" || small.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s, Content-Encoding %q, want 200 uncompressed", small.Status, enc)
	}

	m := stylesheetRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the login page links no content-hashed app.css")
	}
	c := newClient(t, base)
	resp, css := c.get(m[1])
	wantStatus(t, resp, http.StatusOK)
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("%s Cache-Control %q, want immutable", m[1], cc)
	}
	_, plain := c.get("/static/app.css")
	if css != plain {
		t.Error("the hashed address serves other bytes than the plain one")
	}
	resp, _ = c.get("/static/app.css")
	if cc := resp.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("plain /static/app.css is cached as %q: it may change with an upgrade", cc)
	}
	resp, _ = c.get("/static/app.0000000000.css")
	wantStatus(t, resp, http.StatusNotFound)

	resp, _ = c.get("/favicon.ico")
	wantStatus(t, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "icon") {
		t.Errorf("/favicon.ico Content-Type %q", ct)
	}
}
