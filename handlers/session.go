package handlers

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"allmende/models/account"
	"allmende/views"
)

const (
	sessionName = "allmende"
	keySession  = "sid" // the token of the server-side session (account.Session)
	keyCSRF     = "csrf"
	csrfField   = "_csrf"
	csrfHeader  = "X-CSRF-Token"
)

// Sessions keeps the signed and encrypted session cookie: who is signed
// in, their CSRF token, and flash messages.
type Sessions struct {
	store *cookieStore
}

// NewSessions uses hashKey (64 bytes, signing) and blockKey (32 bytes, AES).
func NewSessions(hashKey, blockKey []byte) *Sessions {
	s := sessions.NewCookieStore(hashKey, blockKey)
	s.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(account.SessionMaxAge / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	for _, codec := range s.Codecs {
		if sc, ok := codec.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(jsonSerializer{})
		}
	}
	return &Sessions{store: &cookieStore{CookieStore: s}}
}

// session returns the request's session; a tampered or stale cookie yields
// a fresh one rather than an error.
func (s *Sessions) session(c echo.Context) *sessions.Session {
	sess, _ := s.store.Get(c.Request(), sessionName) // error means a new session
	return sess
}

// save writes the cookie, Secure when the request came over TLS.
func (s *Sessions) save(c echo.Context, sess *sessions.Session) error {
	opts := *s.store.Options
	if sess.Options != nil {
		opts.MaxAge = sess.Options.MaxAge // -1 on logout deletes the cookie
	}
	opts.Secure = c.Scheme() == "https"
	sess.Options = &opts
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// CSRFToken returns the session's token, creating it if needed.
func (s *Sessions) CSRFToken(c echo.Context) (string, error) {
	sess := s.session(c)
	if tok, ok := sess.Values[keyCSRF].(string); ok && tok != "" {
		return tok, nil
	}
	tok, err := newCSRFToken()
	if err != nil {
		return "", err
	}
	sess.Values[keyCSRF] = tok
	return tok, s.save(c, sess)
}

func newCSRFToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read csrf token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// validCSRF compares the submitted token with the session's in constant time.
func (s *Sessions) validCSRF(c echo.Context) bool {
	want, _ := s.session(c).Values[keyCSRF].(string)
	got := c.Request().Header.Get(csrfHeader)
	if got == "" {
		got = c.FormValue(csrfField)
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// Login puts a fresh server-side session's token into the cookie, with a
// new CSRF token (against session fixation). The CSRF token is set here
// rather than on the next page, so the cookie of the login answer already
// holds everything the session's forms need.
func (s *Sessions) Login(c echo.Context, token string) error {
	sess := s.session(c)
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	csrf, err := newCSRFToken()
	if err != nil {
		return err
	}
	sess.Values[keySession] = token
	sess.Values[keyCSRF] = csrf
	return s.save(c, sess)
}

// Logout drops the cookie; the server-side session is ended by the caller.
func (s *Sessions) Logout(c echo.Context) error {
	sess := s.session(c)
	opts := *s.store.Options
	opts.MaxAge = -1
	sess.Options = &opts
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	return s.save(c, sess)
}

// token returns the server-side session's token from the cookie.
func (s *Sessions) token(c echo.Context) string {
	tok, _ := s.session(c).Values[keySession].(string)
	return tok
}

// AddFlash queues a message for the next page.
func (s *Sessions) AddFlash(c echo.Context, kind, text string) error {
	sess := s.session(c)
	sess.AddFlash(kind + "\x00" + text)
	return s.save(c, sess)
}

// flashes pops the queued messages.
func (s *Sessions) flashes(c echo.Context) ([]views.Flash, error) {
	sess := s.session(c)
	raw := sess.Flashes()
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]views.Flash, 0, len(raw))
	for _, r := range raw {
		str, _ := r.(string)
		for i := 0; i < len(str); i++ {
			if str[i] == 0 {
				out = append(out, views.Flash{Kind: str[:i], Text: str[i+1:]})
				break
			}
		}
	}
	return out, s.save(c, sess)
}
