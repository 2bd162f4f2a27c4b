package account_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"gorm.io/gorm"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

// A notification's arguments come back with their types (a day, a moment,
// an amount, a nested message), so a German reader sees German dates and
// amounts; a row from before, a plain JSON array of text and numbers,
// still reads as it did.
func TestNotificationArgumentsKeepTheirTypes(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		n := account.NewNotifications(db)
		ada := modelstest.Register(t, a, "ada@example.org")
		day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
		moment := time.Date(2026, 3, 20, 17, 30, 0, 0, time.UTC)
		sent := []models.Msg{
			models.Msgf("Your payment of %s, received on %s, has been booked on your shares.", models.Cents(10000), day),
			models.Msgf("Voting has opened in the general assembly %q; it runs until %s.", "Annual 2026", moment),
			models.Msgf("The appeals committee has decided your appeal: %s. Reason: %s", models.Msgf("overturned"), "no evidence"),
		}
		for i, m := range sent {
			err := db.Tx(ctx, func(tx *gorm.DB) error { return account.Notify(tx, ada.ID, account.KindPayments, "", m) })
			if err != nil {
				t.Fatal(err)
			}
			// The list is newest first, ordered by time and id.
			if err := db.Gorm.Exec("UPDATE notifications SET created_at = ? WHERE message = ?", day.Add(time.Duration(i)*time.Hour), m.Format).Error; err != nil {
				t.Fatal(err)
			}
		}
		// A row from before typed arguments.
		if err := db.Gorm.Exec(`INSERT INTO notifications (id, user_id, kind, message, args, link, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			"old-row", ada.ID, "payments", "Your payment of %s, received on %s, has been booked on your shares.",
			`["50.00 EUR","2026-01-02"]`, "", day.Add(-time.Hour)).Error; err != nil {
			t.Fatal(err)
		}

		page, err := n.List(ctx, ada.ID, 10)
		if err != nil || len(page.Items) != 4 {
			t.Fatalf("list = %+v, %v", page, err)
		}
		for i, m := range sent {
			if got := page.Items[len(sent)-1-i].Msg(); !reflect.DeepEqual(got, m) {
				t.Errorf("read back %#v, want %#v", got, m)
			}
		}
		berlin, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			t.Fatal(err)
		}
		german := i18n.WithLocale(ctx, i18n.NewLocale(i18n.German, berlin))
		for i, want := range []struct{ de, en string }{
			{"Der Beschwerdeausschuss hat über Ihren Einspruch entschieden: aufgehoben. Begründung: no evidence",
				"The appeals committee has decided your appeal: overturned. Reason: no evidence"},
			{"In der Generalversammlung „Annual 2026“ hat die Abstimmung begonnen; sie läuft bis 20.3.2026, 18:30 CET.",
				`Voting has opened in the general assembly "Annual 2026"; it runs until 2026-03-20 17:30 UTC.`},
			{"Ihre Zahlung über 100,00 €, eingegangen am 14.3.2026, wurde auf Ihre Geschäftsanteile gebucht.",
				"Your payment of 100.00 EUR, received on 2026-03-14, has been booked on your shares."},
			{"Ihre Zahlung über 50.00 EUR, eingegangen am 2026-01-02, wurde auf Ihre Geschäftsanteile gebucht.",
				"Your payment of 50.00 EUR, received on 2026-01-02, has been booked on your shares."},
		} {
			m := page.Items[i].Msg()
			if got := m.Text(german); got != want.de {
				t.Errorf("German:  %q\n         want %q", got, want.de)
			}
			if got := m.Text(ctx); got != want.en {
				t.Errorf("English: %q\n         want %q", got, want.en)
			}
		}
	})
}
