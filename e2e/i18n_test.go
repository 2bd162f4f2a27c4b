package e2e

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPasswordResetInGerman walks the forgotten-password flow in Chromium
// after switching the portal to German with the footer's button: every
// page is German, the mailed code sets the new password, the old one no
// longer works, and the new one logs in.
func TestPasswordResetInGerman(t *testing.T) {
	p := startPortal(t)
	b := startBrowser(t)
	const name, email, oldPassword, newPassword = "Rosa Luxemburg", "rosa@example.org", "genossenschaft-1899", "neues-passwort-2026"
	p.register(t, name, email, oldPassword)
	tab := b.newTab(t, p.url)

	tab.open("/login")
	wantLang(t, tab, "en")
	tab.submit(`form[action="/language"] button[value="de"]`, http.StatusOK)
	tab.wantPath("/login")
	wantLang(t, tab, "de")
	tab.wantText("main h1", "Anmelden")

	tab.submit(`a[href^="/password/forgot"]`, http.StatusOK)
	tab.wantPath("/password/forgot")
	tab.wantText("main h1", "Passwort vergessen?")
	tab.fill("#f-email", email)
	tab.submit(`form[action="/password/forgot"] button[type=submit]`, http.StatusOK)
	tab.wantPath("/password/reset")
	tab.wantText("main h1", "Neues Passwort setzen")
	tab.wantValue("#f-email", email)

	m := registrationCodeRE.FindStringSubmatch(waitForOutboxMail(t, p.dataDir, email, ""))
	if m == nil {
		t.Fatal("no code in the reset mail")
	}
	tab.fill("#f-code", "WRONGCODE2")
	tab.fill("#f-password", newPassword)
	tab.submit(`form[action="/password/reset"] button[type=submit]`, http.StatusUnprocessableEntity)
	tab.wantText("#e-code", "Dieser Code ist falsch oder abgelaufen. Fordern Sie einen neuen an.")
	tab.fill("#f-code", m[1])
	tab.fill("#f-password", newPassword)
	tab.submit(`form[action="/password/reset"] button[type=submit]`, http.StatusOK)
	tab.wantPath("/login")
	tab.wantText("main .flash.success", "Ihr neues Passwort ist gesetzt. Melden Sie sich damit an.")

	tab.fill("#f-email", email)
	tab.fill("#f-password", oldPassword)
	tab.submit(`form[action="/login"] button[type=submit]`, http.StatusUnauthorized)
	tab.wantText("main .flash.error", "E-Mail-Adresse oder Passwort sind falsch.")
	tab.fill("#f-password", newPassword)
	tab.submit(`form[action="/login"] button[type=submit]`, http.StatusOK)
	tab.wantPath("/")
	tab.wantText("main h1", "Willkommen, "+name)
	wantLang(t, tab, "de")
}

func wantLang(t *testing.T, tab *tab, want string) {
	t.Helper()
	if got := run(t, tab.ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); got != want {
		t.Errorf("page language %q, want %q", got, want)
	}
}
