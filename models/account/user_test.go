package account_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

func TestRegister(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		u := modelstest.Register(t, a, "  Ada@Example.org ", account.RoleAdmin)
		if u.Email != "ada@example.org" {
			t.Errorf("email not normalised: %q", u.Email)
		}
		got, err := a.Get(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Has(account.RoleAdmin) || got.Has(account.RoleMember) {
			t.Errorf("roles = %v, want [admin]", got.Roles)
		}
		if strings.Contains(got.PasswordHash, "correct horse") || !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
			t.Errorf("password not stored as argon2id hash: %q", got.PasswordHash)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ? AND target_id = ?", "user.register", u.ID); n != 1 {
			t.Errorf("audit entries for register = %d, want 1", n)
		}

		// Bad input writes nothing: no user, no audit entry.
		users, audits := modelstest.Count(t, db, "users", ""), modelstest.Count(t, db, "audit_events", "")
		_, err = a.Register(ctx, models.Actor{}, account.RegisterInput{Email: "ADA@example.org", Name: "Other", Password: "another long password"})
		if msg := modelstest.FieldErr(t, err, "email"); !strings.Contains(msg, "already exists") {
			t.Errorf("duplicate email message = %q", msg)
		}
		_, err = a.Register(ctx, models.Actor{}, account.RegisterInput{Email: "bob@example.org", Name: "Bob", Password: "short"})
		modelstest.FieldErr(t, err, "password")
		_, err = a.Register(ctx, models.Actor{}, account.RegisterInput{Email: "bob@example.org", Name: "Bob", Password: "password123"})
		modelstest.FieldErr(t, err, "password")
		_, err = a.Register(ctx, models.Actor{}, account.RegisterInput{Email: "not-an-email", Name: "", Password: "a long enough password"})
		modelstest.FieldErr(t, err, "email")
		modelstest.FieldErr(t, err, "name")
		if n := modelstest.Count(t, db, "users", ""); n != users {
			t.Errorf("users after bad input = %d, want %d", n, users)
		}
		if n := modelstest.Count(t, db, "audit_events", ""); n != audits {
			t.Errorf("audit entries after bad input = %d, want %d", n, audits)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		u := modelstest.Register(t, a, "ada@example.org")

		got, err := a.Authenticate(ctx, "192.0.2.1", "ADA@example.org", "correct horse battery")
		if err != nil || got.ID != u.ID {
			t.Fatalf("login with right password: %v", err)
		}
		_, errWrong := a.Authenticate(ctx, "192.0.2.1", "ada@example.org", "wrong password!")
		_, errUnknown := a.Authenticate(ctx, "192.0.2.1", "nobody@example.org", "wrong password!")
		for _, err := range []error{errWrong, errUnknown} {
			de, ok := models.AsError(err)
			if !ok || de.Code != http.StatusUnauthorized {
				t.Fatalf("want 401, got %v", err)
			}
		}
		if errWrong.Error() != errUnknown.Error() {
			t.Errorf("wrong password and unknown email differ: %q vs %q", errWrong, errUnknown)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ?", "user.login_failed"); n != 2 {
			t.Errorf("failed logins audited = %d, want 2", n)
		}
	})
}

func TestChangePassword(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		u := modelstest.Register(t, a, "ada@example.org")
		actor := models.Actor{UserID: u.ID, Email: u.Email}

		here := startSession(t, a, u)
		there := startSession(t, a, u)
		_, hereID, _ := a.SessionUser(ctx, here, "192.0.2.1")

		err := a.ChangePassword(ctx, actor, u.ID, hereID, "not my password", "a brand new secret")
		modelstest.FieldErr(t, err, "current")
		err = a.ChangePassword(ctx, actor, u.ID, hereID, "correct horse battery", "short")
		modelstest.FieldErr(t, err, "new")
		if !sessionWorks(t, a, there) {
			t.Fatal("a refused password change ended a session")
		}

		if err := a.ChangePassword(ctx, actor, u.ID, hereID, "correct horse battery", "a brand new secret"); err != nil {
			t.Fatal(err)
		}
		if !sessionWorks(t, a, here) {
			t.Error("the password change ended the session that made it")
		}
		if sessionWorks(t, a, there) {
			t.Error("the password change left another session open")
		}
		if _, err := a.Authenticate(ctx, "192.0.2.1", u.Email, "a brand new secret"); err != nil {
			t.Errorf("new password refused: %v", err)
		}
		if _, err := a.Authenticate(ctx, "192.0.2.1", u.Email, "correct horse battery"); err == nil {
			t.Error("old password still accepted")
		}
	})
}
