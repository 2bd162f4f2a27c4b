package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"allmende/models/account"
)

// TestJoinFormRedesign: the join form shows a running total, the bylaws
// as a document with their version, countries by name in the reader's
// language (sorted by its rules), and marks the legal person's fields so
// that they show only for that kind; in German too, with German errors.
func TestJoinFormRedesign(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "ada@example.org", account.RoleMember)
	c := newClient(t, base)
	c.login("ada@example.org", "correct horse battery")

	getIn := func(lang, path string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Accept-Language", lang)
		resp, body := c.do(req)
		wantStatus(t, resp, http.StatusOK)
		return body
	}
	en := getIn("en", "/membership")
	wantContains(t, en, `<option value="DE" selected>Germany</option>`, `<output id="join-total" for="f-shares" aria-live="polite" data-price-cents="5000">€50.00</output>`,
		`class="legal-only"`, `class="natural-only"`, `id="bylaws-version">Version 2026-1`, `role="region" tabindex="0"`, "/join.")
	de := getIn("de", "/membership")
	wantContains(t, de, `<option value="DE" selected>Deutschland</option>`, "Gesamt", `>50,00 €</output>`, "50,00 € je Anteil",
		"Fassung 2026-1", "Die Satzung schließt eine Nachschusspflicht", "Eingetragener Name der Organisation",
		"Ich kann die Mitgliedschaft mit einer Frist von 24 Monaten")
	// German order: Oman, Österreich, Pakistan (Ö sorts with O).
	iOman, iAT, iPK := strings.Index(de, ">Oman<"), strings.Index(de, ">Österreich<"), strings.Index(de, ">Pakistan<")
	if iOman < 0 || iAT < iOman || iPK < iAT {
		t.Errorf("German country order wrong: Oman %d, Österreich %d, Pakistan %d", iOman, iAT, iPK)
	}
	if n := len(regexp.MustCompile(`<option value="[A-Z]{2}"`).FindAllString(de, -1)); n != 250 {
		t.Errorf("%d countries offered, want 250", n)
	}

	// A code that is no country is refused, in German; the legal person's
	// fields are required for that kind only.
	form := joinValues("Ada Lovelace", "2")
	form.Set("country", "ZZ")
	form.Set("person_kind", "legal")
	form.Set("_csrf", c.csrf("/membership"))
	req, _ := http.NewRequest(http.MethodPost, base+"/membership/apply", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "de")
	resp, body := c.do(req)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Wählen Sie ein Land", "Geben Sie den eingetragenen Namen der Organisation ein.", `value="legal" checked`)
	form.Set("country", "AT")
	form.Set("organisation", "Analytical Engines eG")
	form.Set("representative", "Ada Lovelace")
	resp, _ = c.submit("/membership", "/membership/apply", form)
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/membership")
	wantContains(t, body, "Analytical Engines eG", "Austria")
}
