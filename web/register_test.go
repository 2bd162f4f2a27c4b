package web_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"allmende/web"
)

var csrfValueRE = regexp.MustCompile(`name="_csrf" value="[^"]*"`)

var registrationCodeRE = regexp.MustCompile(`(?m)^    ([A-Z0-9]{10})\r?$`)

// registrationCode waits for the code mailed to a new address.
func registrationCode(t *testing.T, cfg *web.Config, to string) string {
	t.Helper()
	body := waitForMailText(t, cfg, to, "Your registration code")
	m := registrationCodeRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no code in the mail:\n%s", body)
	}
	return m[1]
}

// waitForMailText is waitForMail returning the mail's text.
func waitForMailText(t *testing.T, cfg *web.Config, to, subject string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(cfg.DataDir, "outbox", "*.eml"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), to) && strings.Contains(string(b), subject) {
				return string(b)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail %q to %s", subject, to)
	return ""
}

// /register answers a known address exactly as a new one and mails the
// owner instead; the account is made only with the mailed code.
func TestRegisterDoesNotTellKnownAddresses(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "taken@example.org")
	d := openDomain(t, cfg)
	users := d.count(t, "users", "")

	answer := func(email string) (int, string, string) {
		c := newClient(t, base)
		resp, _ := c.submit("/register", "/register", url.Values{
			"name": {"Someone"}, "email": {email}, "password": {"long enough password"}})
		loc := resp.Header.Get("Location")
		_, body := c.get(loc)
		body = strings.ReplaceAll(body, url.QueryEscape(email), "EMAIL")
		body = strings.ReplaceAll(body, email, "EMAIL")
		return resp.StatusCode, strings.ReplaceAll(loc, url.QueryEscape(email), "EMAIL"), csrfValueRE.ReplaceAllString(csrfRE.ReplaceAllString(body, ""), "")
	}
	ks, kl, kb := answer("taken@example.org")
	ns, nl, nb := answer("new@example.org")
	if ks != http.StatusSeeOther || ks != ns || kl != nl || kb != nb {
		t.Errorf("known: %d %s, new: %d %s; pages equal: %v", ks, kl, ns, nl, kb == nb)
	}
	if n := d.count(t, "users", ""); n != users {
		t.Errorf("users %d before the code, want %d", n, users)
	}
	owner := waitForMailText(t, cfg, "taken@example.org", "Someone tried to register with your address")
	if registrationCodeRE.MatchString(owner) {
		t.Errorf("the owner's mail carries a code:\n%s", owner)
	}

	// A wrong code, or a code for the known address, makes nothing.
	c := newClient(t, base)
	for _, in := range []url.Values{{"email": {"new@example.org"}, "code": {"WRONGCODE2"}}, {"email": {"taken@example.org"}, "code": {"ABCDEFGHJK"}}} {
		resp, body := c.submit("/register/confirm", "/register/confirm", in)
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		wantContains(t, body, "This code is wrong or has expired.")
	}
	resp, _ := c.submit("/register/confirm", "/register/confirm", url.Values{"email": {"new@example.org"},
		"code": {registrationCode(t, cfg, "new@example.org")}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body := c.get("/")
	wantContains(t, body, "Welcome, Someone", "Your account has been created")
	if n := d.count(t, "users", ""); n != users+1 {
		t.Errorf("users %d after the code, want %d", n, users+1)
	}
	// The code is used up.
	resp, _ = newClient(t, base).submit("/register/confirm", "/register/confirm", url.Values{"email": {"new@example.org"},
		"code": {registrationCode(t, cfg, "new@example.org")}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
}
