package account

import (
	"allmende/models"
	"slices"
	"sync"
	"time"
)

// userCacheTTL bounds how long a signed-in user (roles) or session is
// served from memory. Changes made through this process forget the entry
// at once; changes by another portal instance or the command line show
// after at most this long. Without the cache every page paid a SQLite
// round trip for the same row, the largest cost left on the dashboard.
const userCacheTTL = 2 * time.Second

// maxCachedUsers keeps a flood of distinct sessions from growing memory.
const maxCachedUsers = 10000

type userCache struct {
	mu       sync.Mutex
	entries  map[string]cachedUser
	sessions map[string]cachedSession // by token hash
	// gen counts evictions. A load that started before an eviction must
	// not put what it read (perhaps a session just ended) back.
	gen uint64
}

// cachedSession is what a signed-in request needs of its session row.
type cachedSession struct {
	id, userID string
	expires    time.Time
	lastSeen   time.Time
	at         time.Time // when it was read
}

type cachedUser struct {
	user User
	at   time.Time
}

func newUserCache() *userCache {
	return &userCache{entries: map[string]cachedUser{}, sessions: map[string]cachedSession{}}
}

type userCacheKey struct{}

// usersOf is the cache of signed-in users of db, shared by every service on
// it; nil for a DB assembled by hand.
func usersOf(db *models.DB) *userCache {
	c, _ := db.Local(userCacheKey{}, func() any { return newUserCache() }).(*userCache)
	return c
}

func (c *userCache) get(id string) (*User, bool) {
	if c == nil { // a DB assembled by hand, as some tests do
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || time.Since(e.at) > userCacheTTL {
		return nil, false
	}
	u := e.user
	u.Roles = slices.Clone(e.user.Roles) // callers must not share the slice
	return &u, true
}

func (c *userCache) put(u *User) {
	if c == nil { // a DB assembled by hand, as some tests do
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedUsers {
		clear(c.entries)
	}
	cp := *u
	cp.Roles = slices.Clone(u.Roles)
	c.entries[u.ID] = cachedUser{user: cp, at: time.Now()}
}

func (c *userCache) forget(id string) {
	if c == nil { // a DB assembled by hand, as some tests do
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
	c.gen++
}

// forgetAll is for changes that may touch any account's roles.
func (c *userCache) forgetAll() {
	if c == nil { // a DB assembled by hand, as some tests do
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	clear(c.sessions)
	c.gen++
}

// generation is read before a load; putSession drops what the load read
// when something was evicted meanwhile.
func (c *userCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// session returns the cached session of a token hash, unless it is older
// than userCacheTTL or has expired.
func (c *userCache) session(hash string, now time.Time) (cachedSession, bool) {
	if c == nil {
		return cachedSession{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[hash]
	if !ok || time.Since(s.at) > userCacheTTL || !now.Before(s.expires) {
		return cachedSession{}, false
	}
	return s, true
}

func (c *userCache) putSession(hash string, s cachedSession, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.sessions) >= maxCachedUsers {
		clear(c.sessions)
	}
	s.at = time.Now()
	c.sessions[hash] = s
}

// touched notes a written "last seen" in the cached session.
func (c *userCache) touched(hash string, at time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sessions[hash]; ok {
		s.lastSeen = at
		c.sessions[hash] = s
	}
}

func (c *userCache) forgetSession(hash string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sessions, hash)
	c.gen++
}

// forgetUserSessions evicts every cached session of a user (and the user).
// It walks the map: ending sessions is rare, the map is bounded.
func (c *userCache) forgetUserSessions(userID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, s := range c.sessions {
		if s.userID == userID {
			delete(c.sessions, h)
		}
	}
	delete(c.entries, userID)
	c.gen++
}

// ForgetSignedInUsers drops every cached signed-in user of db, for changes
// that may touch any account's roles.
func ForgetSignedInUsers(db *models.DB) { usersOf(db).forgetAll() }
