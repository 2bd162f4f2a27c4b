package handlers

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestDecodedCookies: a session cookie decoded once is served from the
// cache, each request gets its own copy of the values, a tampered cookie
// is refused as before, and a cookie holding flashes is not kept.
func TestDecodedCookies(t *testing.T) {
	s := NewSessions(bytes.Repeat([]byte("h"), 64), bytes.Repeat([]byte("b"), 32))
	e := echo.New()
	ctx := func(cookie string) echo.Context {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		return e.NewContext(req, httptest.NewRecorder())
	}
	cookieOf := func(c echo.Context) string {
		sc := c.Response().Header().Get("Set-Cookie")
		if sc == "" {
			t.Fatal("no cookie set")
		}
		ck, err := http.ParseSetCookie(sc)
		if err != nil {
			t.Fatal(err)
		}
		return ck.Name + "=" + ck.Value
	}

	login := ctx("")
	if err := s.Login(login, "token-1"); err != nil {
		t.Fatal(err)
	}
	cookie := cookieOf(login)
	if tok := s.token(ctx(cookie)); tok != "token-1" {
		t.Fatalf("token %q after login", tok)
	}
	if len(s.store.decoded.entries) != 1 {
		t.Fatalf("%d decoded cookies kept, want 1", len(s.store.decoded.entries))
	}
	// A request changing its session must not change the cached values.
	c := ctx(cookie)
	s.session(c).Values[keySession] = "changed"
	if tok := s.token(ctx(cookie)); tok != "token-1" {
		t.Fatalf("token %q from the cache after another request changed its copy", tok)
	}
	// Tampered: refused, a fresh session, nothing cached.
	if tok := s.token(ctx(cookie[:len(cookie)-2] + "xx")); tok != "" {
		t.Fatalf("tampered cookie gave token %q", tok)
	}
	if len(s.store.decoded.entries) != 1 {
		t.Fatalf("%d decoded cookies kept after a tampered one, want 1", len(s.store.decoded.entries))
	}
	// Flashes: read once, not kept.
	withFlash := ctx(cookie)
	if err := s.AddFlash(withFlash, "success", "Saved."); err != nil {
		t.Fatal(err)
	}
	flashCookie := cookieOf(withFlash)
	got, err := s.flashes(ctx(flashCookie))
	if err != nil || len(got) != 1 || got[0].Text != "Saved." {
		t.Fatalf("flashes %v, %v", got, err)
	}
	if _, ok := s.store.decoded.get(flashCookie[len(sessionName)+1:]); ok {
		t.Error("a cookie with flashes was cached")
	}
}
