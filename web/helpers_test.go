package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"allmende/hypervisor"
	"allmende/models"
	"allmende/models/account"
	"allmende/web"
)

// testMetricsToken guards /metrics and the details of /readyz in tests.
const testMetricsToken = "metrics-test-token"

// startServer runs a real portal on a free port with a fresh SQLite data
// dir. libvirt is "none" unless the test asks for the private daemon.
func startServer(t testing.TB, libvirt string) (*web.Server, string, *web.Config) {
	t.Helper()
	return startServerWith(t, libvirt, nil)
}

// startServerWith is startServer with a change to the configuration.
func startServerWith(t testing.TB, libvirt string, edit func(*web.Config)) (*web.Server, string, *web.Config) {
	t.Helper()
	// Short: the private libvirtd's socket path must fit 107 bytes.
	dir, err := os.MkdirTemp("", "alm-web")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Runs after the shutdown below. The portal leaves its private libvirtd
	// running, as it must for guests; the test's own is stopped here.
	t.Cleanup(func() {
		if err := hypervisor.StopDaemon(web.LibvirtDir(dir), log); err != nil {
			t.Errorf("stop libvirtd: %v", err)
		}
		os.RemoveAll(dir)
	})
	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"), Libvirt: libvirt, Workers: 2,
		ShutdownGrace: 2 * time.Second, // jobs against the tests' unreachable hosts need not finish
		MetricsToken:  testMetricsToken}
	if edit != nil {
		edit(cfg)
	}
	ctx := context.Background()
	srv, err := web.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv, "http://" + addr, cfg
}

func createUser(t testing.TB, srv *web.Server, email string, roles ...account.Role) {
	t.Helper()
	_, err := srv.Accounts.Register(context.Background(), models.SystemActor("test"),
		account.RegisterInput{Email: email, Name: "Test " + email, Password: "correct horse battery", Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
}

// client is a cookie-keeping HTTP client that does not follow redirects,
// so tests see exactly what the portal answered.
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func newClient(t testing.TB, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends req and reads the whole answer. API requests and answers are
// checked against the OpenAPI document (see checkAPI).
func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	var reqBody []byte
	if req.Body != nil && strings.HasPrefix(req.URL.Path, "/api/") {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			c.t.Fatal(err)
		}
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, problem := range checkAPI(req, reqBody, resp, b) {
		c.t.Error(problem)
	}
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

// csrf loads a page and returns the session's CSRF token from it.
func (c *client) csrf(path string) string {
	c.t.Helper()
	_, body := c.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no csrf token on %s", path)
	}
	return m[1]
}

// submit posts a form with the CSRF token of the page it came from.
func (c *client) submit(page, action string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	form.Set("_csrf", c.csrf(page))
	return c.post(action, form)
}

func (c *client) login(email, password string) *http.Response {
	c.t.Helper()
	resp, _ := c.submit("/login", "/login", url.Values{"email": {email}, "password": {password}})
	return resp
}

func (c *client) api(method, path, token string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.do(req)
}

func wantStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want)
	}
}

func wantContains(t *testing.T, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("page does not contain %q", p)
		}
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
