package account_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

func wantThrottled(t *testing.T, err error, scope string) *account.LoginThrottled {
	t.Helper()
	modelstest.WantCode(t, err, http.StatusTooManyRequests)
	var th *account.LoginThrottled
	if !errors.As(err, &th) || th.Scope != scope || th.RetryAfter <= 0 {
		t.Fatalf("429 without the throttle's cause for %s: %v", scope, err)
	}
	return th
}

// Failures from one address slow down that address for that account (the
// wait doubles), never the owner from another address; an address that
// fails across many accounts is refused as a whole.
func TestLoginThrottle(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		clock := models.NewManualClock(time.Now().UTC())
		a.SetClock(clock)
		modelstest.Register(t, a, "ada@example.org")
		modelstest.Register(t, a, "bob@example.org")
		const evil, home = "203.0.113.66", "198.51.100.2"
		tick := func(d time.Duration) { clock.Set(clock.Now().Add(d)) }

		// Three failures are free.
		for range 3 {
			_, err := a.Authenticate(ctx, evil, "ada@example.org", "wrong password!")
			modelstest.WantCode(t, err, http.StatusUnauthorized)
			tick(time.Millisecond)
		}
		// Then each try waits 1 s, 2 s, 4 s ... after the last failure.
		for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
			_, err := a.Authenticate(ctx, evil, "ada@example.org", "correct horse battery")
			th := wantThrottled(t, err, "account+address")
			if th.RetryAfter > wait || th.RetryAfter < wait-10*time.Millisecond {
				t.Errorf("step %d: retry after %v, want about %v", i, th.RetryAfter, wait)
			}
			tick(wait)
			_, err = a.Authenticate(ctx, evil, "ada@example.org", "wrong password!")
			modelstest.WantCode(t, err, http.StatusUnauthorized)
		}
		// The owner from home is never refused, nor is Bob from the evil address.
		if _, err := a.Authenticate(ctx, home, "ada@example.org", "correct horse battery"); err != nil {
			t.Fatalf("the owner from another address: %v", err)
		}
		if _, err := a.Authenticate(ctx, evil, "bob@example.org", "correct horse battery"); err != nil {
			t.Fatalf("another account from the failing address: %v", err)
		}
		// After its wait, the right password from the failing address works
		// and clears the pair's count.
		tick(16 * time.Second)
		if _, err := a.Authenticate(ctx, evil, "ada@example.org", "correct horse battery"); err != nil {
			t.Fatalf("right password after the wait: %v", err)
		}
		if _, err := a.Authenticate(ctx, evil, "ada@example.org", "wrong password!"); err == nil {
			t.Fatal("wrong password accepted")
		}
		modelstest.WantCode(t, func() error { _, err := a.Authenticate(ctx, evil, "ada@example.org", "wrong password!"); return err }(), http.StatusUnauthorized)

		// Per address: 20 failures over many accounts refuse the address
		// until the oldest of them is 15 minutes old.
		const scanner = "192.0.2.200"
		for i := range 20 {
			_, err := a.Authenticate(ctx, scanner, "guess"+strconv.Itoa(i)+"@example.org", "wrong password!")
			modelstest.WantCode(t, err, http.StatusUnauthorized)
			tick(time.Second)
		}
		_, err := a.Authenticate(ctx, scanner, "bob@example.org", "correct horse battery")
		th := wantThrottled(t, err, "address")
		if th.RetryAfter < 14*time.Minute || th.RetryAfter > 15*time.Minute {
			t.Errorf("address retry after %v", th.RetryAfter)
		}
		if _, err := a.Authenticate(ctx, home, "bob@example.org", "correct horse battery"); err != nil {
			t.Fatalf("another address refused: %v", err)
		}
		tick(th.RetryAfter + time.Second)
		if _, err := a.Authenticate(ctx, scanner, "bob@example.org", "correct horse battery"); err != nil {
			t.Fatalf("after the window: %v", err)
		}

		r, err := a.FailedLogins(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.ByAddress) < 2 || r.ByAddress[0].Key != scanner || r.ByAddress[0].Failures != 20 || r.ByAddress[0].Accounts != 20 {
			t.Errorf("by address: %+v", r.ByAddress)
		}
		if r.ByAddress[0].Last.IsZero() {
			t.Error("no time of the last failure")
		}
		var adaRow *account.FailureGroup
		for i := range r.ByAccount {
			if r.ByAccount[i].Key == "ada@example.org" {
				adaRow = &r.ByAccount[i]
			}
		}
		if adaRow == nil || adaRow.Failures != 9 || adaRow.Accounts != 1 {
			t.Errorf("by account ada: %+v", adaRow)
		}
	})
}
