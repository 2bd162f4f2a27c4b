package account_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

func startSession(t *testing.T, a *account.Accounts, u *account.User) string {
	t.Helper()
	tok, err := a.StartSession(context.Background(), u, "192.0.2.1", "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func sessionWorks(t *testing.T, a *account.Accounts, token string) bool {
	t.Helper()
	_, _, err := a.SessionUser(context.Background(), token, "192.0.2.1")
	if err != nil && !models.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// Each way of ending sessions ends exactly the ones it means, at once in
// this process (the cache does not keep an ended session alive).
func TestSessionsEnd(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		ada := modelstest.Register(t, a, "ada@example.org")
		bob := modelstest.Register(t, a, "bob@example.org")
		actor := models.Actor{UserID: ada.ID, Email: ada.Email}
		s1, s2, s3 := startSession(t, a, ada), startSession(t, a, ada), startSession(t, a, ada)
		b1 := startSession(t, a, bob)
		for _, s := range []string{s1, s2, s3, b1} {
			if !sessionWorks(t, a, s) { // and now cached
				t.Fatal("a fresh session does not work")
			}
		}
		if sessionWorks(t, a, "forged") || sessionWorks(t, a, "") {
			t.Fatal("an unknown token opens a session")
		}
		list, err := a.Sessions(ctx, ada.ID)
		if err != nil || len(list) != 3 {
			t.Fatalf("sessions = %d, %v; want 3", len(list), err)
		}
		if d := list[0].Device(); d != "Firefox on Linux" {
			t.Errorf("device %q", d)
		}

		// Logout ends its own session.
		if err := a.Logout(ctx, actor, s1); err != nil {
			t.Fatal(err)
		}
		if sessionWorks(t, a, s1) || !sessionWorks(t, a, s2) {
			t.Error("logout did not end exactly its session")
		}

		// Bob cannot end Ada's session: not found.
		_, id2, _ := a.SessionUser(ctx, s2, "192.0.2.1")
		err = a.EndSession(ctx, models.Actor{UserID: bob.ID}, bob.ID, id2)
		modelstest.WantCode(t, err, http.StatusNotFound)
		if !sessionWorks(t, a, s2) {
			t.Fatal("another user ended the session")
		}
		if err := a.EndSession(ctx, actor, ada.ID, id2); err != nil {
			t.Fatal(err)
		}
		if sessionWorks(t, a, s2) || !sessionWorks(t, a, s3) {
			t.Error("ending one session did not end exactly that one")
		}
		modelstest.WantCode(t, a.EndSession(ctx, actor, ada.ID, id2), http.StatusNotFound)

		// Log out everywhere.
		s4 := startSession(t, a, ada)
		if n, err := a.EndSessions(ctx, actor, ada.ID, ""); err != nil || n != 2 {
			t.Fatalf("ended %d, %v; want 2", n, err)
		}
		if sessionWorks(t, a, s3) || sessionWorks(t, a, s4) || !sessionWorks(t, a, b1) {
			t.Error("log out everywhere ended the wrong sessions")
		}
		if n := modelstest.Count(t, db, "audit_events", "action IN (?, ?, ?)", "user.logout", "user.session_end", "user.sessions_end"); n != 3 {
			t.Errorf("session ends audited = %d, want 3", n)
		}
	})
}

// A session lasts SessionMaxAge; "last seen" is written once a minute at
// most; expired sessions are purged.
func TestSessionExpiryAndLastSeen(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		clock := models.NewManualClock(time.Now().UTC())
		a.SetClock(clock)
		ada := modelstest.Register(t, a, "ada@example.org")
		tok := startSession(t, a, ada)
		start := clock.Now()

		clock.Set(start.Add(30 * time.Second))
		if _, _, err := a.SessionUser(ctx, tok, "198.51.100.7"); err != nil {
			t.Fatal(err)
		}
		list, _ := a.Sessions(ctx, ada.ID)
		if !list[0].LastSeenAt.Equal(start.Truncate(time.Microsecond)) && list[0].LastSeenAt.Sub(start).Abs() > time.Millisecond {
			t.Errorf("last seen written within the minute: %v", list[0].LastSeenAt)
		}
		clock.Set(start.Add(2 * time.Minute))
		if _, _, err := a.SessionUser(ctx, tok, "198.51.100.7"); err != nil {
			t.Fatal(err)
		}
		list, _ = a.Sessions(ctx, ada.ID)
		if list[0].LastSeenAt.Sub(start.Add(2*time.Minute)).Abs() > time.Millisecond || list[0].IP != "198.51.100.7" {
			t.Errorf("last seen %v from %s after two minutes", list[0].LastSeenAt, list[0].IP)
		}

		clock.Set(start.Add(account.SessionMaxAge + time.Second))
		if sessionWorks(t, a, tok) {
			t.Error("a session outlived its maximum age")
		}
		if n, err := a.PurgeSessions(ctx); err != nil || n != 1 {
			t.Errorf("purged %d, %v; want 1", n, err)
		}
	})
}

// A locked account loses its sessions, cannot log in and gets its login
// back when unlocked.
func TestLock(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		ada := modelstest.Register(t, a, "ada@example.org")
		tok := startSession(t, a, ada)
		sessionWorks(t, a, tok)
		admin := models.SystemActor("cli")
		if _, err := a.Lock(ctx, admin, "ada@example.org"); err != nil {
			t.Fatal(err)
		}
		if sessionWorks(t, a, tok) {
			t.Error("a locked account's session still works")
		}
		_, err := a.Authenticate(ctx, "192.0.2.1", "ada@example.org", "correct horse battery")
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, err = a.Authenticate(ctx, "192.0.2.1", "ada@example.org", "wrong password!")
		modelstest.WantCode(t, err, http.StatusUnauthorized) // the lock shows only to the right password
		modelstest.WantCode(t, func() error { _, err := a.Lock(ctx, admin, "nobody@example.org"); return err }(), http.StatusNotFound)

		if _, err := a.Unlock(ctx, admin, "ada@example.org"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, "192.0.2.1", "ada@example.org", "correct horse battery"); err != nil {
			t.Errorf("unlocked account refused: %v", err)
		}
	})
}

func TestDeviceOf(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36":                                   "Chrome on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0":               "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":                      "Safari on macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"curl/8.5.0": "curl on unknown system",
		"":           "Unknown device",
	} {
		if got := account.DeviceOf(ua); got != want {
			t.Errorf("DeviceOf(%q) = %q, want %q", ua, got, want)
		}
	}
}
