package account_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

// The store behind Idempotency-Key on both databases: the first claim
// carries the request out, the same request again gets its answer, another
// request under the key 422, a claim while the first is open 409; keys are
// per account, expire after 24 h, and a released key is free again. Of
// several claims at once exactly one carries the request out.
func TestIdempotencyKeys(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		ada := modelstest.Register(t, a, "ada@example.org")
		bob := modelstest.Register(t, a, "bob@example.org")
		clock := models.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		keys := account.NewIdempotencyKeys(db, clock)
		h1 := account.RequestHash("POST", "/api/v1/members/x/payments", []byte(`{"amount_cents":100}`))
		h2 := account.RequestHash("POST", "/api/v1/members/x/payments", []byte(`{"amount_cents":200}`))
		wantCode := func(err error, code int) {
			t.Helper()
			var e *models.Error
			if !errors.As(err, &e) || e.Code != code {
				t.Fatalf("err = %v, want status %d", err, code)
			}
		}

		prev, err := keys.Claim(ctx, ada.ID, "k1", h1)
		if err != nil || prev != nil {
			t.Fatalf("first claim: %v %v", prev, err)
		}
		_, err = keys.Claim(ctx, ada.ID, "k1", h1)
		wantCode(err, http.StatusConflict) // still being answered
		if err := keys.Finish(ctx, ada.ID, "k1", account.StoredAnswer{Status: 201, ContentType: "application/json", Body: []byte(`{"booked":true}`)}); err != nil {
			t.Fatal(err)
		}
		prev, err = keys.Claim(ctx, ada.ID, "k1", h1)
		if err != nil || prev == nil || prev.Status != 201 || string(prev.Body) != `{"booked":true}` || prev.ContentType != "application/json" {
			t.Fatalf("replay: %+v %v", prev, err)
		}
		_, err = keys.Claim(ctx, ada.ID, "k1", h2)
		wantCode(err, http.StatusUnprocessableEntity)
		// Another account's key of the same name is its own.
		if prev, err := keys.Claim(ctx, bob.ID, "k1", h2); err != nil || prev != nil {
			t.Fatalf("bob's claim: %v %v", prev, err)
		}
		// Bad keys.
		for _, k := range []string{"", "a b", strings.Repeat("k", account.MaxIdempotencyKey+1), "ü"} {
			_, err = keys.Claim(ctx, ada.ID, k, h1)
			wantCode(err, http.StatusBadRequest)
		}
		// Released after a server failure: the retry is carried out.
		if _, err := keys.Claim(ctx, ada.ID, "k2", h1); err != nil {
			t.Fatal(err)
		}
		if err := keys.Release(ctx, ada.ID, "k2"); err != nil {
			t.Fatal(err)
		}
		if prev, err := keys.Claim(ctx, ada.ID, "k2", h1); err != nil || prev != nil {
			t.Fatalf("claim after release: %v %v", prev, err)
		}
		// After 24 hours the key is free, even for another request.
		clock.Set(clock.Now().Add(account.IdempotencyTTL + time.Minute))
		if prev, err := keys.Claim(ctx, ada.ID, "k1", h2); err != nil || prev != nil {
			t.Fatalf("claim after expiry: %v %v", prev, err)
		}
		if n := modelstest.Count(t, db, "idempotency_keys", "user_id = ?", ada.ID); n != 1 {
			t.Errorf("ada's keys after expiry = %d, want 1 (the expired ones dropped)", n)
		}

		// Concurrent claims: one wins, the others see it open.
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, open := 0, 0
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				prev, err := keys.Claim(ctx, ada.ID, "race", h1)
				mu.Lock()
				defer mu.Unlock()
				var e *models.Error
				switch {
				case err == nil && prev == nil:
					won++
				case errors.As(err, &e) && e.Code == http.StatusConflict:
					open++
				default:
					t.Errorf("concurrent claim: %v %v", prev, err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || open != 5 {
			t.Errorf("concurrent claims: %d carried out, %d refused; want 1 and 5", won, open)
		}
	})
}
