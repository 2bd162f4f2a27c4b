package account_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

// The mails a person asks for come in the account's language; without
// one, in the language of the page that asked (the request's ctx).
func TestMailsInTheRecipientsLanguage(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		german := i18n.WithLocale(ctx, i18n.NewLocale(i18n.German, time.UTC))
		a := account.NewAccounts(db)
		r := account.NewPasswordResets(db, modelstest.NewQueue(t, db))
		de := modelstest.Register(t, a, "greta@example.org")
		if err := a.SetPreferences(ctx, models.Actor{UserID: de.ID}, de.ID, "de", ""); err != nil {
			t.Fatal(err)
		}
		modelstest.Register(t, a, "ada@example.org")
		modelstest.Register(t, a, "lena@example.org")

		if err := r.Request(ctx, "192.0.2.1", "greta@example.org"); err != nil { // an English page; the account says German
			t.Fatal(err)
		}
		if m := mailTo(t, db, "greta@example.org"); !strings.HasPrefix(m, "Ihr Code für ein neues Passwort\nHallo Ada,") || strings.Contains(m, "Hello") {
			t.Errorf("German account's reset mail:\n%s", m)
		}
		if err := r.Request(ctx, "192.0.2.1", "ada@example.org"); err != nil {
			t.Fatal(err)
		}
		if m := mailTo(t, db, "ada@example.org"); !strings.HasPrefix(m, "Your code to set a new password\nHello Ada,") {
			t.Errorf("English reset mail:\n%s", m)
		}
		if err := r.Request(german, "192.0.2.1", "lena@example.org"); err != nil { // no setting, a German page
			t.Fatal(err)
		}
		if m := mailTo(t, db, "lena@example.org"); !strings.HasPrefix(m, "Ihr Code für ein neues Passwort") {
			t.Errorf("reset asked for on a German page:\n%s", m)
		}
	})
}
