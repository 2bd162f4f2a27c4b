package account_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

var codeRE = regexp.MustCompile(`(?m)^    ([A-Z0-9]{10})$`)

// mailTo returns the body of the last mail job to an address.
func mailTo(t *testing.T, db *models.DB, to string) string {
	t.Helper()
	var raw string
	args := "CAST(args AS TEXT)"
	if db.Dialect == models.SQLite {
		args = "json(args)" // River stores JSONB there
	}
	if err := db.Gorm.Raw("SELECT "+args+" FROM river_job WHERE kind = 'mail.send' AND CAST(args AS TEXT) LIKE ? ORDER BY id DESC LIMIT 1",
		"%"+to+"%").Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	var m struct{ Subject, Body string }
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("mail job %q: %v", raw, err)
	}
	return m.Subject + "\n" + m.Body
}

func TestRegistrationByCode(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		r := account.NewRegistrations(db, modelstest.NewQueue(t, db), a)
		modelstest.Register(t, a, "taken@example.org")
		in := func(email string) account.RegisterInput {
			return account.RegisterInput{Email: email, Name: "Someone", Password: "long enough password"}
		}

		// A known address: no error, no registration, a mail to the owner.
		if err := r.Start(ctx, "192.0.2.1", in("Taken@example.org")); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "registrations", ""); n != 0 {
			t.Errorf("registrations for a known address: %d", n)
		}
		if m := mailTo(t, db, "taken@example.org"); !regexp.MustCompile("Someone tried to register").MatchString(m) || codeRE.MatchString(m) {
			t.Errorf("owner's mail: %s", m)
		}
		_, err := r.Confirm(ctx, "", "taken@example.org", "ABCDEFGHJK")
		modelstest.FieldErr(t, err, "code")

		// Bad input is refused as before, writing nothing.
		err = r.Start(ctx, "", account.RegisterInput{Email: "new@example.org", Name: "x\x00", Password: "short"})
		modelstest.FieldErr(t, err, "password")
		modelstest.FieldErr(t, err, "name")

		// A new address: a code; wrong codes count, the right one makes the account once.
		if err := r.Start(ctx, "", in("new@example.org")); err != nil {
			t.Fatal(err)
		}
		m := codeRE.FindStringSubmatch(mailTo(t, db, "new@example.org"))
		if m == nil {
			t.Fatalf("no code mailed")
		}
		if _, err := a.ByEmail(ctx, "new@example.org"); err == nil {
			t.Error("the account exists before the code came back")
		}
		_, err = r.Confirm(ctx, "", "new@example.org", "WRONGCODE2")
		modelstest.FieldErr(t, err, "code")
		u, err := r.Confirm(ctx, "", " New@example.org ", " "+m[1][:5]+" "+m[1][5:])
		if err != nil || u.Email != "new@example.org" || u.Name != "Someone" {
			t.Fatalf("confirm: %+v, %v", u, err)
		}
		if _, err := a.Authenticate(ctx, "192.0.2.1", "new@example.org", "long enough password"); err != nil {
			t.Errorf("log in with the registered password: %v", err)
		}
		_, err = r.Confirm(ctx, "", "new@example.org", m[1])
		modelstest.FieldErr(t, err, "code")

		// Five wrong codes drop the registration.
		if err := r.Start(ctx, "", in("other@example.org")); err != nil {
			t.Fatal(err)
		}
		code := codeRE.FindStringSubmatch(mailTo(t, db, "other@example.org"))[1]
		for range 5 {
			_, err = r.Confirm(ctx, "", "other@example.org", "WRONGCODE2")
			modelstest.FieldErr(t, err, "code")
		}
		_, err = r.Confirm(ctx, "", "other@example.org", code)
		modelstest.FieldErr(t, err, "code")
	})
}
