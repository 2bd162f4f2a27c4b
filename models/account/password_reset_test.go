package account_test

import (
	"context"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

func TestPasswordReset(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		r := account.NewPasswordResets(db, modelstest.NewQueue(t, db))
		u := modelstest.Register(t, a, "ada@example.org")
		token, err := a.StartSession(ctx, u, "192.0.2.9", "test")
		if err != nil {
			t.Fatal(err)
		}

		// No account enumeration: an unknown address gets the same answer and no mail.
		if err := r.Request(ctx, "192.0.2.1", "nobody@example.org"); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = 'mail.send'"); n != 0 {
			t.Errorf("mails for an unknown address: %d", n)
		}
		modelstest.FieldErr(t, r.Request(ctx, "", "not an address"), "email")
		modelstest.FieldErr(t, r.Reset(ctx, "", "nobody@example.org", "ABCDEFGHJK", "a brand new password"), "code")

		if err := r.Request(ctx, "192.0.2.1", " Ada@example.org "); err != nil {
			t.Fatal(err)
		}
		m := codeRE.FindStringSubmatch(mailTo(t, db, "ada@example.org"))
		if m == nil {
			t.Fatal("no code mailed")
		}
		code := m[1]
		// A wrong code counts and changes nothing; a weak password keeps the code.
		modelstest.FieldErr(t, r.Reset(ctx, "", "ada@example.org", "WRONGCODE2", "a brand new password"), "code")
		modelstest.FieldErr(t, r.Reset(ctx, "", "ada@example.org", code, "short"), "password")
		if err := r.Reset(ctx, "192.0.2.1", "ada@example.org", strings.ToLower(code), "a brand new password"); err != nil {
			t.Fatalf("reset: %v", err)
		}
		if _, err := a.Authenticate(ctx, "192.0.2.1", "ada@example.org", "a brand new password"); err != nil {
			t.Errorf("the new password does not work: %v", err)
		}
		if _, _, err := a.SessionUser(ctx, token, "192.0.2.9"); err == nil {
			t.Error("a session of the account survived the reset")
		}
		// Single use.
		modelstest.FieldErr(t, r.Reset(ctx, "", "ada@example.org", code, "another new password"), "code")
		if n := modelstest.Count(t, db, "audit_events", "action = 'user.password_reset'"); n != 1 {
			t.Errorf("audit entries for the reset: %d", n)
		}

		// At most three codes an hour; further requests send nothing.
		for range 4 {
			if err := r.Request(ctx, "192.0.2.1", "ada@example.org"); err != nil {
				t.Fatal(err)
			}
		}
		if n := modelstest.Count(t, db, "river_job", "kind = 'mail.send'"); n != 3 {
			t.Errorf("mails after five requests in an hour: %d, want 3", n)
		}
		// Only the newest code works: an older one was replaced.
		modelstest.FieldErr(t, r.Reset(ctx, "", "ada@example.org", code, "another new password"), "code")

		// Five wrong tries end the code.
		newest := codeRE.FindStringSubmatch(mailTo(t, db, "ada@example.org"))[1]
		for range 5 {
			modelstest.FieldErr(t, r.Reset(ctx, "", "ada@example.org", "WRONGCODE2", "another new password"), "code")
		}
		modelstest.FieldErr(t, r.Reset(ctx, "", "ada@example.org", newest, "another new password"), "code")
	})
}
