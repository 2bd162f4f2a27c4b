package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
)

// TestPaymentInputInBothLanguages: a board member books a member's payment
// from a German and from an English browser, each writing the amount as
// people there do ("100,00" and "100.00"). The amount is shown back before
// anything is booked, with a warning when it is more than the member owes;
// only the confirmation books it, as a hundred euros.
func TestPaymentInputInBothLanguages(t *testing.T) {
	clock := models.SystemClock{}
	p, cfg := startClockedPortal(t, clock)
	c := openCoop(t, cfg, clock)
	rules := c.current(t)
	for _, email := range []string{"anna@board.example", "ben@board.example"} {
		p.register(t, "Board "+email, email, "board-password-1", account.RoleBoard)
	}
	board := boardActors(t, p, "anna@board.example", "ben@board.example")
	ctx := context.Background()
	br := startBrowser(t)

	for _, lang := range []struct{ code, small, large string }{
		{"de", "100,00", "1000,00"},
		{"en", "100.00", "1000.00"},
	} {
		t.Run(lang.code, func(t *testing.T) {
			// An admitted member who has paid nothing of three shares.
			email := "payer-" + lang.code + "@example.org"
			u, err := p.srv.Accounts.Register(ctx, models.SystemActor("e2e"), account.RegisterInput{Email: email, Name: "Paula Payer", Password: "payer-password-1"})
			if err != nil {
				t.Fatal(err)
			}
			m, err := c.members.Apply(ctx, models.Actor{UserID: u.ID, Email: u.Email}, u.ID, membership.ApplicationInput{
				PersonKind: membership.PersonNatural, LegalName: "Paula Payer", Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin",
				Country: "DE", Shares: 3, AcceptBylaws: true, BylawsVersion: rules.BylawsVersion, AcknowledgeNoticePeriod: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range board[:rules.AdmissionApprovals] {
				if _, err := c.members.Approve(ctx, b, m.ID); err != nil {
					t.Fatal(err)
				}
			}
			if owed := 3 * rules.SharePriceCents; owed <= 10000 || owed >= 100000 {
				t.Fatalf("three shares cost %d cents: the amounts below do not straddle it", owed)
			}
			paid := func() int64 {
				t.Helper()
				var n int64
				if err := c.db.Gorm.Raw("SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM capital_transactions WHERE membership_id = ?", m.ID).Scan(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}

			tab := br.newTab(t, p.url)
			tab.speak(lang.code)
			tab.logIn("ben@board.example", "board-password-1")
			tab.open("/board/members/" + m.ID)
			wantLang(t, tab, lang.code)
			check := func(amount string) {
				t.Helper()
				tab.retype("#f-amount", amount)
				run(t, tab.ctx, chromedp.SetValue(chromedp.CSS("#f-date"), time.Now().Format(time.DateOnly)))
				tab.submit(`form[action$="/payments"]:not(#payment-confirm-form) button[type=submit]`, http.StatusOK)
				wantLang(t, tab, lang.code)
			}
			confirmCents := func() string {
				return run(t, tab.ctx, chromedp.Evaluate[string](`document.querySelector('#payment-confirm-form input[name="confirm_cents"]')?.value ?? ""`))
			}

			// More than owed: shown back with a warning; nothing booked.
			check(lang.large)
			if got := confirmCents(); got != "100000" {
				t.Errorf("%q read as %q cents, want 100000", lang.large, got)
			}
			if tab.count("#payment-confirm-excess") != 1 {
				t.Errorf("no warning that %s is more than is owed\n%s", lang.large, tab.html("main"))
			}
			// A hundred euros: shown back without a warning, booked only on
			// confirmation.
			check(lang.small)
			if got := confirmCents(); got != "10000" {
				t.Errorf("%q read as %q cents, want 10000", lang.small, got)
			}
			if n := tab.count("#payment-confirm-excess"); n != 0 {
				t.Errorf("a warning for %s, less than is owed", lang.small)
			}
			if n := paid(); n != 0 {
				t.Fatalf("%d cents booked before the confirmation", n)
			}
			tab.submit(`#payment-confirm-form button[type=submit]`, http.StatusOK)
			wantLang(t, tab, lang.code)
			if n := tab.count("main .flash.success"); n != 1 {
				t.Errorf("no success message after booking\n%s", tab.html("main"))
			}
			if n := paid(); n != 10000 {
				t.Errorf("%d cents booked, want 10000", n)
			}
		})
	}
}
