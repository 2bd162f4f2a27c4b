package membership_test

import (
	"context"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

// Admission and a booked payment notify the member in the portal, and mail
// them in their language: a German member gets German mails, an English
// one English mails. A member who turned payments off by mail gets the
// notification but no mail; the admission mail is required and comes anyway.
func TestMembershipNotifiesInTheirLanguage(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		notes := account.NewNotifications(db)

		greta := e.User(t, "greta@example.org")
		modelstest.SetLocale(t, db, greta.UserID, "de", "Europe/Berlin")
		if err := notes.SetMailPrefs(ctx, greta, greta.UserID, map[account.Kind]bool{account.KindVotes: true}); err != nil {
			t.Fatal(err) // payments and tasks off; membership is required
		}
		prefs, err := notes.MailPrefs(ctx, greta.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if prefs[account.KindPayments] || !prefs[account.KindMembership] || !prefs[account.KindVotes] {
			t.Errorf("preferences after setting = %v", prefs)
		}
		e.SetRule(t, rulebook.RuleAdmissionApprovals, "1")
		gm := e.Apply(t, greta, "Greta Muster", 2)
		if _, err := e.Memberships.Approve(ctx, e.Board1, gm.ID); err != nil {
			t.Fatal(err)
		}
		subject, body := modelstest.LastMail(t, db, "greta@example.org", "membership.admitted:")
		if subject != "Willkommen: Sie sind jetzt Mitglied" || !strings.Contains(body, "Hallo Account greta,") ||
			!strings.Contains(body, "Mit freundlichen Grüßen") || !strings.Contains(body, " €") {
			t.Errorf("German admission mail:\n%s\n%s", subject, body)
		}
		page, err := notes.List(ctx, greta.UserID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if page.Unread != 1 || len(page.Items) != 1 || page.Items[0].Kind != account.KindMembership || page.Items[0].Link != "/membership" {
			t.Fatalf("notifications after admission: %+v", page)
		}
		if got := page.Items[0].Msg().String(); !strings.Contains(got, "your member number is 1") {
			t.Errorf("admission notification = %q", got)
		}

		ada, am := e.Member(t, "ada@example.org", "Ada Lovelace", 1)
		subject, body = modelstest.LastMail(t, db, "ada@example.org", "membership.admitted:")
		if subject != "Welcome: you are now a member" || !strings.Contains(body, "Kind regards") {
			t.Errorf("English admission mail:\n%s\n%s", subject, body)
		}

		gretasMails := modelstest.Mails(t, db, "greta@example.org")
		for _, who := range []struct {
			actor models.Actor
			id    string
		}{{greta, gm.ID}, {ada, am.ID}} {
			if err := e.Memberships.RecordPayment(ctx, e.Board1, who.id, 5000, modelstest.Day(2026, 3, 14), ""); err != nil {
				t.Fatal(err)
			}
		}
		if n := modelstest.Count(t, db, "notifications", "kind = 'payments'"); n != 2 {
			t.Errorf("payment notifications: %d", n)
		}
		if n := modelstest.Mails(t, db, "greta@example.org"); n != gretasMails {
			t.Errorf("Greta turned payment mails off, yet has %d mails more", n-gretasMails)
		}
		subject, _ = modelstest.LastMail(t, db, "ada@example.org", "membership.payment:")
		if subject != "Your payment has been booked" {
			t.Errorf("payment mail subject %q", subject)
		}

		// Read: one, then all; another account's notification is not found.
		if err := notes.MarkRead(ctx, ada.UserID, page.Items[0].ID); !models.IsNotFound(err) {
			t.Errorf("marking another's notification read: %v", err)
		}
		if err := notes.MarkRead(ctx, greta.UserID, page.Items[0].ID); err != nil {
			t.Fatal(err)
		}
		if n, err := notes.Unread(ctx, greta.UserID); err != nil || n != 1 {
			t.Errorf("unread after marking one = %d, %v", n, err)
		}
		if n, err := notes.MarkAllRead(ctx, greta.UserID); err != nil || n != 1 {
			t.Errorf("mark all read = %d, %v", n, err)
		}
		if n, err := notes.Unread(ctx, greta.UserID); err != nil || n != 0 {
			t.Errorf("unread after marking all = %d, %v", n, err)
		}
	})
}
