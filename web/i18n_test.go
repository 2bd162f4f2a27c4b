package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"allmende/models/account"
	"allmende/models/membership"
)

// sameInBothLanguages may read the same in German and English: names,
// addresses, codes, units and the technical words German uses as they are
// (VM, CPU, Standby, Gateway, …), and the test data ("Test …", numbered
// agenda items).
var sameInBothLanguages = regexp.MustCompile(`^(Allmende|Moderation|\.eml|ALLMENDE_[A-Z_]+|Deutsch|English|Name|IBAN|The bylaws of the cooperative, version .*|Status|Hosts|API|OpenAPI|UTC|Authorization: Bearer …|[A-Z][a-z]+/[A-Za-z_/]+|<?.*@example\.org>?|alm_[0-9a-z]+…|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC|Text|Test .*|Go-http-client/.*|127\.0\.0\.1|[0-9.,]+ (GiB|MiB|KiB|KiB/s|B|s)|vCPUs?|VMs?|CPUs?|Standby|Gateway|Bridge|DNS|CIDR|URI|Pool|Volume|Kernel|Initrd|Format|Organ|raw|qcow2|kvm|qemu|Hosts · Allmende|[0-9.,]+ / [0-9.,]+ GiB|[0-9]+ vCPUs?, [0-9.,]+ GiB, [0-9.,]+ GiB|· [0-9]+ VMs?|[0-9]+\. Test .*|([0-9a-f]{2}:){5}[0-9a-f]{2}|[a-z0-9]+(_[a-z0-9]+)+)$`)

// checkBothLanguages fetches path with Accept-Language de and en and fails
// on any visible text the same in both, but for the data the test made
// (same: names of VMs, plans, …) and sameInBothLanguages.
func checkBothLanguages(t *testing.T, c *client, base, path string, same ...string) {
	t.Helper()
	texts := map[string]map[string]bool{}
	for _, lang := range []string{"de", "en"} {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Accept-Language", lang)
		resp, body := c.do(req)
		if resp.StatusCode != http.StatusOK && path != "/no-such-page" {
			t.Errorf("%s in %s: status %d", path, lang, resp.StatusCode)
		}
		if !strings.Contains(body, `<html lang="`+lang+`"`) {
			t.Errorf("%s in %s: not <html lang=%q>", path, lang, lang)
		}
		texts[lang] = visibleTexts(body)
	}
	for s := range texts["de"] {
		if texts["en"][s] && !sameInBothLanguages.MatchString(s) && !sameCountryNames[s] && !slices.Contains(same, s) {
			t.Errorf("%s: %q reads the same in German and English (untranslated?)", path, s)
		}
	}
}

// postBothLanguages posts form to action (with a CSRF token from page) in
// German and in English, wants the answer's status (0: any 4xx, a form
// refused), and fails on any visible text the same in both, as
// checkBothLanguages does for a page. It returns the answers by language.
func postBothLanguages(t *testing.T, c *client, base, page, action string, status int, form url.Values, same ...string) map[string]string {
	t.Helper()
	bodies, texts := map[string]string{}, map[string]map[string]bool{}
	for _, lang := range []string{"de", "en"} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("_csrf", c.csrf(page))
		req, _ := http.NewRequest(http.MethodPost, base+action, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept-Language", lang)
		resp, body := c.do(req)
		if status == 0 && (resp.StatusCode < 400 || resp.StatusCode >= 500) {
			t.Errorf("POST %s in %s: status %d, want the form back with its errors", action, lang, resp.StatusCode)
		} else if status != 0 && resp.StatusCode != status {
			t.Fatalf("POST %s in %s: status %d, want %d\n%s", action, lang, resp.StatusCode, status, body)
		}
		if !strings.Contains(body, `<html lang="`+lang+`"`) {
			t.Errorf("POST %s in %s: not <html lang=%q>", action, lang, lang)
		}
		bodies[lang], texts[lang] = body, visibleTexts(body)
	}
	for s := range texts["de"] {
		if texts["en"][s] && !sameInBothLanguages.MatchString(s) && !sameCountryNames[s] && !slices.Contains(same, s) {
			t.Errorf("POST %s: %q reads the same in German and English (untranslated?)", action, s)
		}
	}
	return bodies
}

// sameCountryNames are the countries CLDR names alike in German and
// English (Japan, Portugal, …).
var sameCountryNames = func() map[string]bool {
	out := map[string]bool{}
	for _, code := range membership.Countries {
		r := language.MustParseRegion(code)
		if de, en := display.German.Regions().Name(r), display.English.Regions().Name(r); de == en {
			out[de] = true
		}
	}
	return out
}()

var letters = regexp.MustCompile(`\pL{2,}`)

// visibleTexts collects the text nodes outside script and style, and the
// attributes people read or hear (aria-label, title, placeholder, alt,
// data-confirm, the meta description).
func visibleTexts(page string) map[string]bool {
	out := map[string]bool{}
	add := func(s string) {
		s = strings.Join(strings.Fields(s), " ")
		if letters.MatchString(s) {
			out[s] = true
		}
	}
	z := html.NewTokenizer(strings.NewReader(page))
	skip := 0
	noTranslate, noDepth := "", 0 // inside an element marked translate="no"
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.Data == "script" || tok.Data == "style" {
				skip++
			}
			// translate="no" marks data (codes, ids, addresses): it reads
			// alike in every language.
			if noTranslate != "" && tok.Data == noTranslate && tok.Type == html.StartTagToken {
				noDepth++
			}
			for _, a := range tok.Attr {
				if a.Key == "translate" && a.Val == "no" && noTranslate == "" && tok.Type == html.StartTagToken {
					noTranslate, noDepth = tok.Data, 1
				}
			}
			var isDescription bool
			for _, a := range tok.Attr {
				if a.Key == "name" && a.Val == "description" {
					isDescription = true
				}
			}
			for _, a := range tok.Attr {
				switch {
				case a.Key == "aria-label" || a.Key == "title" || a.Key == "placeholder" || a.Key == "alt" || a.Key == "data-confirm":
					add(a.Val)
				case a.Key == "content" && isDescription:
					add(a.Val)
				}
			}
		case html.EndTagToken:
			tok := z.Token()
			if (tok.Data == "script" || tok.Data == "style") && skip > 0 {
				skip--
			}
			if noTranslate != "" && tok.Data == noTranslate {
				if noDepth--; noDepth == 0 {
					noTranslate = ""
				}
			}
		case html.TextToken:
			if skip == 0 && noTranslate == "" {
				add(string(z.Text()))
			}
		}
	}
}

// TestLanguageChoice: the switch keeps the language for a signed-out
// browser (cookie) and for an account (setting), ahead of the browser's
// Accept-Language; a bad time zone is a field error.
func TestLanguageChoice(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org", account.RoleMember)
	get := func(c *client, path, accept string) string {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Accept-Language", accept)
		_, body := c.do(req)
		return body
	}
	c := newClient(t, base)
	if body := get(c, "/login", "en"); !strings.Contains(body, `lang="en"`) || !strings.Contains(body, "Log in") {
		t.Fatal("/login is not English for an English browser")
	}
	resp, _ := c.submit("/login", "/language", url.Values{"lang": {"de"}, "next": {"/login"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/login" {
		t.Errorf("back to %q, want /login", loc)
	}
	if body := get(c, "/login", "en"); !strings.Contains(body, `lang="de"`) || !strings.Contains(body, "Passwort vergessen?") {
		t.Error("the chosen German did not stick for this browser")
	}
	resp, _ = c.submit("/login", "/language", url.Values{"lang": {"fr"}, "next": {"//evil.example"}})
	wantStatus(t, resp, http.StatusBadRequest)

	// The account's setting wins over the browser and follows the account.
	c2 := newClient(t, base)
	c2.login("ada@example.org", "correct horse battery")
	resp, body := c2.submit("/account", "/account/preferences", url.Values{"language": {"de"}, "time_zone": {"../../etc/passwd"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose a time zone from the list.")
	resp, _ = c2.submit("/account", "/account/preferences", url.Values{"language": {"de"}, "time_zone": {"Europe/Berlin"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if body := get(c2, "/account", "en-US"); !strings.Contains(body, `lang="de"`) || !strings.Contains(body, "Ihre Einstellungen sind gespeichert.") {
		t.Error("the account's German is not used, or the saved message is not German")
	}
	c3 := newClient(t, base)
	c3.login("ada@example.org", "correct horse battery")
	if body := get(c3, "/", "en"); !strings.Contains(body, "Willkommen") {
		t.Error("another browser of the account is not German")
	}
}

// TestPasswordResetPages: the forgot form answers alike for known and
// unknown addresses, and the login page links to it.
func TestPasswordResetPages(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org", account.RoleMember)
	c := newClient(t, base)
	_, body := c.get("/login")
	wantContains(t, body, `href="/password/forgot?email="`)
	answer := func(email string) (int, string) {
		resp, _ := c.submit("/password/forgot", "/password/forgot", url.Values{"email": {email}})
		loc := resp.Header.Get("Location")
		return resp.StatusCode, strings.Replace(loc, url.QueryEscape(email), "EMAIL", 1)
	}
	s1, l1 := answer("ada@example.org")
	s2, l2 := answer("nobody@example.org")
	if s1 != http.StatusSeeOther || s1 != s2 || l1 != l2 {
		t.Errorf("known address: %d %s; unknown: %d %s", s1, l1, s2, l2)
	}
	resp, body := c.submit("/password/forgot", "/password/forgot", url.Values{"email": {"not an address"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, `aria-invalid="true"`)
	resp, body = c.submit("/password/reset?email=ada%40example.org", "/password/reset",
		url.Values{"email": {"ada@example.org"}, "code": {"WRONGCODE2"}, "password": {"a brand new password"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "This code is wrong or has expired.")
}
