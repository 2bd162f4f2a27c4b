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

func TestTokens(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		tokens := account.NewTokens(db, a)
		ada := modelstest.Register(t, a, "ada@example.org")
		bob := modelstest.Register(t, a, "bob@example.org")

		tok, secret, err := tokens.Create(ctx, models.Actor{UserID: ada.ID}, ada.ID, "laptop")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "alm_") || !strings.HasPrefix(secret, tok.Prefix) {
			t.Errorf("secret %q / prefix %q", secret, tok.Prefix)
		}
		if n := modelstest.Count(t, db, "api_tokens", "token_hash = ?", secret); n != 0 {
			t.Error("token stored in plain text")
		}
		u, err := tokens.Authenticate(ctx, secret)
		if err != nil || u.ID != ada.ID {
			t.Fatalf("authenticate: %v", err)
		}
		if _, err := tokens.Authenticate(ctx, secret+"x"); err == nil {
			t.Error("a wrong token authenticated")
		}
		_, _, err = tokens.Create(ctx, models.Actor{}, ada.ID, "  ")
		modelstest.FieldErr(t, err, "name")

		// Bob cannot revoke Ada's token: it is "not found" for him.
		err = tokens.Revoke(ctx, models.Actor{UserID: bob.ID}, bob.ID, tok.ID)
		if de, _ := models.AsError(err); de == nil || de.Code != http.StatusNotFound {
			t.Fatalf("revoking another's token: want 404, got %v", err)
		}
		if err := tokens.Revoke(ctx, models.Actor{UserID: ada.ID}, ada.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.Authenticate(ctx, secret); err == nil {
			t.Error("revoked token still authenticates")
		}
		list, _ := tokens.List(ctx, ada.ID)
		if len(list) != 1 || list[0].RevokedAt == nil {
			t.Errorf("list after revoke: %+v", list)
		}
	})
}
