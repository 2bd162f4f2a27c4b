package account

import (
	"sync"
	"time"

	"allmende/models"
)

// unreadTTL bounds how long a count of unread notifications is served from
// memory. Every signed-in page shows the count, and counting was a fifth
// of the dashboard's CPU. A notification written or read through this
// process forgets the count once its transaction commits; one written by
// another portal instance shows after at most this long, as with the
// cached sessions (userCacheTTL).
const unreadTTL = 2 * time.Second

type unreadCache struct {
	mu      sync.Mutex
	entries map[string]cachedCount
	// gen counts evictions: a count read before one must not be put back.
	gen uint64
}

type cachedCount struct {
	n  int64
	at time.Time
}

type unreadCacheKey struct{}

// unreadOf is the cache of unread counts of db; nil for a DB assembled by
// hand, which then always counts.
func unreadOf(db *models.DB) *unreadCache {
	c, _ := db.Local(unreadCacheKey{}, func() any {
		return &unreadCache{entries: map[string]cachedCount{}}
	}).(*unreadCache)
	return c
}

// get returns the cached count of userID and the generation to hand to
// put when there is none.
func (c *unreadCache) get(userID string) (n int64, ok bool, gen uint64) {
	if c == nil {
		return 0, false, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[userID]
	if !ok || time.Since(e.at) > unreadTTL {
		return 0, false, c.gen
	}
	return e.n, true, c.gen
}

func (c *unreadCache) put(userID string, n int64, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.entries) >= maxCachedUsers {
		clear(c.entries)
	}
	c.entries[userID] = cachedCount{n: n, at: time.Now()}
}

func (c *unreadCache) forget(userIDs ...string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range userIDs {
		delete(c.entries, id)
	}
	c.gen++
}
