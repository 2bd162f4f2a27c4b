package web_test

import (
	"allmende/models/account"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRegisterLoginLogout(t *testing.T) {
	_, base, cfg := startServer(t, "none")
	c := newClient(t, base)

	resp, _ := c.submit("/register", "/register", url.Values{
		"name": {"Ada Lovelace"}, "email": {"ada@example.org"}, "password": {"analytical engine 1843"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = c.submit("/register/confirm?email=ada%40example.org", "/register/confirm", url.Values{
		"email": {"ada@example.org"}, "code": {registrationCode(t, cfg, "ada@example.org")}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body := c.get("/")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Welcome, Ada Lovelace", "Not a member yet", "Your account has been created")

	resp, _ = c.submit("/", "/logout", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = c.get("/account")
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login?next=") {
		t.Errorf("anonymous /account redirects to %q", loc)
	}

	resp = c.login("ADA@example.org", "analytical engine 1843")
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/account")
	wantContains(t, body, "ada@example.org", "Change password")
}

func TestRegistrationBadInput(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "taken@example.org")
	c := newClient(t, base)

	resp, body := c.submit("/register", "/register", url.Values{
		"name": {"Weak"}, "email": {"not an address"}, "password": {"long enough password"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a valid email address", `value="not an address"`, `value="Weak"`)

	resp, body = c.submit("/register", "/register", url.Values{
		"name": {"Weak"}, "email": {"weak@example.org"}, "password": {"short"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Use at least 10 characters.", `value="weak@example.org"`, `aria-invalid="true"`)
	if strings.Contains(body, `value="short"`) {
		t.Error("the password was echoed back into the form")
	}
}

func TestLoginBadInput(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org")
	c := newClient(t, base)

	resp, body := c.submit("/login", "/login", url.Values{"email": {"ada@example.org"}, "password": {"wrong password"}})
	wantStatus(t, resp, http.StatusUnauthorized)
	wantContains(t, body, html.EscapeString("The email address or password is wrong."), `value="ada@example.org"`)
	_, bodyUnknown := c.submit("/login", "/login", url.Values{"email": {"nobody@example.org"}, "password": {"wrong password"}})
	wantContains(t, bodyUnknown, html.EscapeString("The email address or password is wrong."))

	// After three failures this address has to wait before it may try
	// ada's account again, even with the right password.
	for range 4 {
		c.submit("/login", "/login", url.Values{"email": {"ada@example.org"}, "password": {"wrong password"}})
	}
	resp, body = c.submit("/login", "/login", url.Values{"email": {"ada@example.org"}, "password": {"correct horse battery"}})
	wantStatus(t, resp, http.StatusTooManyRequests)
	wantContains(t, body, "Too many failed logins", "try again")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestCSRFBodyLimitAndNotFound(t *testing.T) {
	_, base, _ := startServer(t, "none")
	c := newClient(t, base)

	c.get("/login") // a session exists, but the form lacks its token
	resp, body := c.post("/login", url.Values{"email": {"a@example.org"}, "password": {"whatever password"}})
	wantStatus(t, resp, http.StatusForbidden)
	wantContains(t, body, "<html", "This form has expired")

	resp, body = c.post("/register", url.Values{"_csrf": {c.csrf("/register")}, "name": {"x"}, "email": {"a@example.org"}, "password": {"wrong"}, "pad": {strings.Repeat("x", 2<<20)}})
	wantStatus(t, resp, http.StatusRequestEntityTooLarge)
	wantContains(t, body, "<html", "larger than the portal accepts")

	resp, body = c.get("/no/such/page")
	wantStatus(t, resp, http.StatusNotFound)
	wantContains(t, body, "<html", "Page not found", `href="/login"`)
}

func TestRoleChecks(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "member@example.org", account.RoleMember)
	createUser(t, srv, "admin@example.org", account.RoleAdmin)

	member := newClient(t, base)
	member.login("member@example.org", "correct horse battery")
	for _, p := range []string{"/admin/hosts", "/admin/audit", "/admin/hosts/table"} {
		resp, body := member.get(p)
		wantStatus(t, resp, http.StatusForbidden)
		wantContains(t, body, "Not allowed")
	}
	resp, _ := member.submit("/", "/admin/hosts", url.Values{"name": {"evil"}, "uri": {"test+unix:///default?socket=/x"}})
	wantStatus(t, resp, http.StatusForbidden)

	admin := newClient(t, base)
	admin.login("admin@example.org", "correct horse battery")
	resp, body := admin.get("/admin/audit?action=user.login")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "member@example.org", "admin@example.org", "user.login")
	// Only the table: the filter's suggestions (a datalist) name every action.
	if rows, _, _ := strings.Cut(body[strings.Index(body, "<table"):], "</table>"); strings.Contains(rows, "user.register") {
		t.Error("audit filter by action prefix did not filter")
	}
	_, body = admin.get("/admin/audit?actor=member")
	if strings.Contains(body, "admin@example.org</td>") {
		t.Error("audit filter by actor did not filter")
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org")
	laptop, phone := newClient(t, base), newClient(t, base)
	laptop.login("ada@example.org", "correct horse battery")
	phone.login("ada@example.org", "correct horse battery")

	resp, body := laptop.submit("/account", "/account/password", url.Values{"current": {"wrong one"}, "new": {"a brand new secret"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "This is not your current password.")

	resp, _ = laptop.submit("/account", "/account/password", url.Values{"current": {"correct horse battery"}, "new": {"a brand new secret"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = laptop.get("/account")
	wantStatus(t, resp, http.StatusOK)
	resp, _ = phone.get("/account")
	wantStatus(t, resp, http.StatusSeeOther) // signed out
}

func TestSecurityHeadersAndCookie(t *testing.T) {
	_, base, _ := startServer(t, "none")
	c := newClient(t, base)
	resp, _ := c.get("/login")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("missing nosniff")
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "allmende" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Errorf("session cookie over plain HTTP = %+v; want HttpOnly, SameSite=Lax, not Secure", cookie)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, _ = newClient(t, base).do(req)
	for _, ck := range resp.Cookies() {
		if ck.Name == "allmende" && !ck.Secure {
			t.Error("session cookie behind TLS is not Secure")
		}
	}
	resp, body := c.get("/static/vendor/htmx.min.js")
	wantStatus(t, resp, http.StatusOK)
	if len(body) < 10000 {
		t.Errorf("htmx is %d bytes; not the embedded library?", len(body))
	}
}
