package handlers

import (
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/sessions"
)

// cookieStore is gorilla's CookieStore that remembers decoded cookies.
// Every signed-in request decodes the same cookie: verify its HMAC, decrypt
// it, parse its JSON. That was a tenth of a dashboard's CPU, for a value
// that changes only when the session is saved (login, a flash, a new CSRF
// token), which gives a new cookie. A cookie is cached only after it
// decoded, keyed by its whole value, so nothing unverified gets in.
type cookieStore struct {
	*sessions.CookieStore
	decoded decodedCookies
}

// Get goes through the request's registry like CookieStore.Get, but with
// this store, so that the registry calls New below.
func (s *cookieStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New is CookieStore.New with the cache in front.
func (s *cookieStore) New(r *http.Request, name string) (*sessions.Session, error) {
	ck, err := r.Cookie(name)
	if err != nil {
		return s.CookieStore.New(r, name)
	}
	if values, ok := s.decoded.get(ck.Value); ok {
		sess := sessions.NewSession(s.CookieStore, name)
		opts := *s.Options
		sess.Options = &opts
		sess.Values = values
		return sess, nil
	}
	sess, err := s.CookieStore.New(r, name)
	if err == nil && !sess.IsNew {
		s.decoded.put(ck.Value, sess.Values)
	}
	return sess, err
}

const (
	// decodedCookieTTL bounds how long a decoded cookie is trusted without
	// decoding it again; securecookie's own age check (the cookie's
	// 14 days) may thus act this much later.
	decodedCookieTTL = time.Minute
	// maxDecodedCookies keeps a flood of sessions from growing memory.
	maxDecodedCookies = 10000
)

type decodedCookies struct {
	mu      sync.Mutex
	entries map[string]decodedCookie
}

type decodedCookie struct {
	values map[any]any
	at     time.Time
}

// get returns a copy of the values of a cookie decoded earlier: the
// request's session may change its own.
func (d *decodedCookies) get(cookie string) (map[any]any, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entries[cookie]
	if !ok || time.Since(e.at) > decodedCookieTTL {
		return nil, false
	}
	return maps.Clone(e.values), true
}

// put keeps the values of a cookie that decoded, unless one is not a
// string or a number: the flash list is a slice a copy would share, and a
// cookie with flashes is read once and replaced.
func (d *decodedCookies) put(cookie string, values map[any]any) {
	for _, v := range values {
		switch v.(type) {
		case string, int64:
		default:
			return
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries == nil || len(d.entries) >= maxDecodedCookies {
		d.entries = map[string]decodedCookie{} // bounded: old cookies go at once
	}
	d.entries[cookie] = decodedCookie{values: maps.Clone(values), at: time.Now()}
}
