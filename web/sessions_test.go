package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"allmende/models/account"
	"allmende/web"
)

// headerTransport adds fixed headers (a device's User-Agent, the address
// a trusted proxy names) to every request of a test client.
type headerTransport struct{ hdr map[string]string }

func (h headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range h.hdr {
		req.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// deviceClient is a client that always sends these headers.
func deviceClient(t *testing.T, base string, hdr map[string]string) *client {
	c := newClient(t, base)
	c.http.Transport = headerTransport{hdr: hdr}
	return c
}

// copyOf is a second client carrying the same cookies: a stolen cookie.
func copyOf(t *testing.T, c *client) *client {
	cp := newClient(t, c.base)
	u, _ := url.Parse(c.base)
	cp.http.Jar.SetCookies(u, c.http.Jar.Cookies(u))
	return cp
}

func signedIn(t *testing.T, c *client) bool {
	t.Helper()
	resp, _ := c.get("/account")
	switch resp.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		return false
	}
	t.Fatalf("GET /account: status %d", resp.StatusCode)
	return false
}

func sessionsOf(t *testing.T, srv *web.Server, email string) []account.Session {
	t.Helper()
	u, err := srv.Accounts.ByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := srv.Accounts.Sessions(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// A cookie copied before logout no longer opens anything after it.
func TestLogoutEndsCopiedCookie(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org")
	c := newClient(t, base)
	wantStatus(t, c.login("ada@example.org", "correct horse battery"), http.StatusSeeOther)
	stolen := copyOf(t, c)
	if !signedIn(t, stolen) {
		t.Fatal("the copied cookie does not work before logout")
	}
	resp, _ := c.submit("/account", "/logout", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	if signedIn(t, stolen) {
		t.Error("a cookie copied before logout still opens /account")
	}
	if signedIn(t, c) {
		t.Error("still signed in after logout")
	}
}

// The account page lists the sessions; ending one ends exactly that one,
// "log out everywhere" ends all of them, this one included.
func TestEndSessions(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org")
	laptop := deviceClient(t, base, map[string]string{"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"})
	phone := deviceClient(t, base, map[string]string{"User-Agent": "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0"})
	tablet := deviceClient(t, base, map[string]string{"User-Agent": "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"})
	for _, c := range []*client{laptop, phone, tablet} {
		wantStatus(t, c.login("ada@example.org", "correct horse battery"), http.StatusSeeOther)
	}
	_, body := laptop.get("/account")
	wantContains(t, body, "Chrome on Linux", "Firefox on Android", "Safari on iOS", "This session", "127.0.0.1", "Log out everywhere")

	var phoneID string
	for _, s := range sessionsOf(t, srv, "ada@example.org") {
		if s.Device() == "Firefox on Android" {
			phoneID = s.ID
		}
	}
	if phoneID == "" {
		t.Fatal("the phone's session is not listed")
	}
	wantContains(t, body, `action="/account/sessions/`+phoneID+`/end"`)

	// Another member cannot end it: it is not found for them.
	createUser(t, srv, "bob@example.org")
	bob := newClient(t, base)
	bob.login("bob@example.org", "correct horse battery")
	resp, _ := bob.submit("/account", "/account/sessions/"+phoneID+"/end", url.Values{})
	wantStatus(t, resp, http.StatusNotFound)
	if !signedIn(t, phone) {
		t.Fatal("another member ended my session")
	}
	resp, _ = laptop.submit("/account", "/account/sessions/no-such-session/end", url.Values{})
	wantStatus(t, resp, http.StatusNotFound)

	resp, _ = laptop.submit("/account", "/account/sessions/"+phoneID+"/end", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	if signedIn(t, phone) {
		t.Error("the ended session still works")
	}
	if !signedIn(t, laptop) || !signedIn(t, tablet) {
		t.Error("ending one session ended others too")
	}
	if !signedIn(t, bob) {
		t.Error("another member's session ended")
	}

	resp, _ = laptop.submit("/account", "/account/sessions/end-all", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	if signedIn(t, laptop) || signedIn(t, tablet) {
		t.Error("log out everywhere left a session")
	}
	if !signedIn(t, bob) {
		t.Error("log out everywhere ended another member's session")
	}
}

// loginFrom submits the login form as if a trusted proxy named ip.
func loginFrom(t *testing.T, base, ip, email, password string) *http.Response {
	t.Helper()
	c := deviceClient(t, base, map[string]string{"X-Forwarded-For": ip})
	return c.login(email, password)
}

// Failures from one address slow that address down, never the owner
// elsewhere; an address trying many accounts is refused as a whole; the
// admins see what is being tried.
func TestLoginThrottle(t *testing.T) {
	srv, base, _ := startServerWith(t, "none", func(cfg *web.Config) { cfg.TrustProxy = true })
	createUser(t, srv, "alice@example.org", account.RoleMember)
	createUser(t, srv, "admin@example.org", account.RoleAdmin)

	var throttled *http.Response
	for i := range 12 {
		resp := loginFrom(t, base, "10.6.6.6", "alice@example.org", "wrong password "+strconv.Itoa(i))
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = resp
		} else if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i, resp.StatusCode)
		}
	}
	if throttled == nil {
		t.Fatal("12 quick failures from one address were never slowed down")
	}
	if ra, err := strconv.Atoi(throttled.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("429 without a usable Retry-After: %q", throttled.Header.Get("Retry-After"))
	}
	// The failing address is refused even the right password, for now.
	resp := loginFrom(t, base, "10.6.6.6", "alice@example.org", "correct horse battery")
	wantStatus(t, resp, http.StatusTooManyRequests)
	// The owner from her own address is let in.
	resp = loginFrom(t, base, "10.2.2.2", "alice@example.org", "correct horse battery")
	wantStatus(t, resp, http.StatusSeeOther)

	// An address guessing across many accounts is refused as a whole.
	for i := range 20 {
		loginFrom(t, base, "10.9.9.9", "guess"+strconv.Itoa(i)+"@example.org", "wrong password")
	}
	resp = loginFrom(t, base, "10.9.9.9", "alice@example.org", "correct horse battery")
	wantStatus(t, resp, http.StatusTooManyRequests)

	admin := deviceClient(t, base, map[string]string{"X-Forwarded-For": "10.1.1.1"})
	wantStatus(t, admin.login("admin@example.org", "correct horse battery"), http.StatusSeeOther)
	resp, body := admin.get("/admin/logins")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "10.6.6.6", "10.9.9.9", "alice@example.org", "guess3@example.org", `href="/admin/logins"`)

	member := deviceClient(t, base, map[string]string{"X-Forwarded-For": "10.2.2.2"})
	wantStatus(t, member.login("alice@example.org", "correct horse battery"), http.StatusSeeOther)
	resp, _ = member.get("/admin/logins")
	wantStatus(t, resp, http.StatusForbidden)
}
