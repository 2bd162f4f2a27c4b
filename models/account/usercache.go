package account

import (
	"allmende/models"
	"slices"
	"sync"
	"time"
)

// userCacheTTL bounds how long a signed-in user (roles, session epoch) is
// served from memory. Changes made through this process forget the entry
// at once; changes by another portal instance or the command line show
// after at most this long. Without the cache every page paid a SQLite
// round trip for the same row, the largest cost left on the dashboard.
const userCacheTTL = 2 * time.Second

// maxCachedUsers keeps a flood of distinct sessions from growing memory.
const maxCachedUsers = 10000

type userCache struct {
	mu      sync.Mutex
	entries map[string]cachedUser
}

type cachedUser struct {
	user User
	at   time.Time
}

func newUserCache() *userCache { return &userCache{entries: map[string]cachedUser{}} }

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
}

// forgetAll is for changes that may touch any account's roles.
func (c *userCache) forgetAll() {
	if c == nil { // a DB assembled by hand, as some tests do
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

// ForgetSignedInUsers drops every cached signed-in user of db, for changes
// that may touch any account's roles.
func ForgetSignedInUsers(db *models.DB) { usersOf(db).forgetAll() }
