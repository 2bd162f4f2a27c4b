package account

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Sessions of the web portal live in the database, one row each, so that
// each can be ended on its own: logout ends the current one, "log out
// everywhere" all of a member's, a password change all but the current one,
// and an administrator's lock all of them. The cookie carries a random token;
// the table keeps only its SHA-256 (as for API tokens), so a copy of the
// database opens no session.
//
// Every signed-in request resolves its token here. That is one query (the
// session joined with its user and roles) on the read pool, then kept for
// at most userCacheTTL in this process's cache. An end of a session through
// this process evicts it at once; one made by another portal instance (or
// the command line) takes effect there within userCacheTTL.
const (
	// SessionMaxAge is a session's absolute lifetime, also the cookie's.
	SessionMaxAge = 14 * 24 * time.Hour
	// sessionTouchEvery bounds the writes for "last seen": at most one per
	// session and minute, not one per request.
	sessionTouchEvery = time.Minute
	maxUserAgent      = 512
	maxIP             = 64
)

// Session is one signed-in browser.
type Session struct {
	ID         string // public: names the session in forms
	TokenHash  string `json:"-"`
	UserID     string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
	IP         string `gorm:"column:ip"`
	UserAgent  string
}

func (Session) TableName() string { return "sessions" }

// Device names the browser and system of the session in a few words.
func (s Session) Device() string { return DeviceOf(s.UserAgent) }

func (a *Accounts) now() time.Time { return a.clock.Now().UTC() }

// SetClock replaces the wall clock, for tests of the login throttle and of
// session expiry.
func (a *Accounts) SetClock(c models.Clock) { a.clock = c }

// StartSession opens a session for u (who has just proved who they are)
// and returns the token for the cookie. Expired sessions of everyone are
// purged on the way: logins are rare enough for that to cost nothing.
func (a *Accounts) StartSession(ctx context.Context, u *User, ip, userAgent string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("read session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := a.now()
	s := Session{ID: kit.NewID(), TokenHash: hashToken(token), UserID: u.ID, CreatedAt: now,
		ExpiresAt: now.Add(SessionMaxAge), LastSeenAt: now, IP: clip(ip, maxIP), UserAgent: clip(userAgent, maxUserAgent)}
	err := a.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("expires_at <= ?", now).Delete(&Session{}).Error; err != nil {
			return fmt.Errorf("purge expired sessions: %w", err)
		}
		if err := tx.Create(&s).Error; err != nil {
			return fmt.Errorf("start session: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// PurgeSessions deletes expired sessions; it returns how many.
func (a *Accounts) PurgeSessions(ctx context.Context) (int64, error) {
	res := a.db.Gorm.WithContext(ctx).Where("expires_at <= ?", a.now()).Delete(&Session{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// SessionUser resolves a session token to its user and the session's id.
// An unknown, ended or expired token, or a locked account, is "not found".
// ip is the request's address: "last seen" notes it, once a minute.
func (a *Accounts) SessionUser(ctx context.Context, token, ip string) (*User, string, error) {
	if token == "" {
		return nil, "", models.NotFoundError("session")
	}
	hash := hashToken(token)
	cache := usersOf(a.db)
	now := a.now()
	s, ok := cache.session(hash, now)
	var u *User
	if ok {
		u, ok = cache.get(s.userID)
	}
	if !ok {
		gen := cache.generation()
		var err error
		if u, s, err = a.loadSession(ctx, hash, now); err != nil {
			return nil, "", err
		}
		cache.putSession(hash, s, gen)
		cache.put(u)
	}
	if now.Sub(s.lastSeen) >= sessionTouchEvery {
		// Best effort: a failed touch leaves "last seen" older, and the
		// next request tries again; it must not fail the page.
		if err := a.db.Gorm.WithContext(ctx).Model(&Session{}).Where("id = ?", s.id).
			Updates(map[string]any{"last_seen_at": now, "ip": clip(ip, maxIP)}).Error; err == nil {
			cache.touched(hash, now)
		}
	}
	return u, s.id, nil
}

// loadSession is the one query of a signed-in request whose session is
// not cached: session, user and roles.
func (a *Accounts) loadSession(ctx context.Context, hash string, now time.Time) (*User, cachedSession, error) {
	rows, err := a.db.Read.WithContext(ctx).Raw(`SELECT s.id, s.expires_at, s.last_seen_at,
		u.id, u.email, u.name, u.password_hash, u.language, u.time_zone, u.created_at, u.updated_at, r.role
		FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN user_roles r ON r.user_id = u.id
		WHERE s.token_hash = ? AND s.expires_at > ? AND u.locked_at IS NULL ORDER BY r.role`, hash, now).Rows()
	if err != nil {
		return nil, cachedSession{}, fmt.Errorf("load session: %w", err)
	}
	defer rows.Close()
	var u *User
	var s cachedSession
	for rows.Next() {
		var row User
		var role *string
		if err := rows.Scan(&s.id, &s.expires, &s.lastSeen, &row.ID, &row.Email, &row.Name, &row.PasswordHash,
			&row.Language, &row.TimeZone, &row.CreatedAt, &row.UpdatedAt, &role); err != nil {
			return nil, cachedSession{}, fmt.Errorf("scan session: %w", err)
		}
		if u == nil {
			u = &row
		}
		if role != nil {
			u.Roles = append(u.Roles, Role(*role))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, cachedSession{}, fmt.Errorf("load session: %w", err)
	}
	if u == nil {
		return nil, cachedSession{}, models.NotFoundError("session")
	}
	s.userID = u.ID
	return u, s, nil
}

// Sessions lists the user's live sessions, the most recently seen first.
func (a *Accounts) Sessions(ctx context.Context, userID string) ([]Session, error) {
	var out []Session
	err := a.db.Gorm.WithContext(ctx).Where("user_id = ? AND expires_at > ?", userID, a.now()).
		Order("last_seen_at DESC, id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// Logout ends the session of token; an unknown token is no error (the
// cookie is dropped either way).
func (a *Accounts) Logout(ctx context.Context, actor models.Actor, token string) error {
	if token == "" {
		return nil
	}
	hash := hashToken(token)
	defer usersOf(a.db).forgetSession(hash)
	return a.db.Tx(ctx, func(tx *gorm.DB) error {
		var s Session
		if err := tx.Where("token_hash = ?", hash).Limit(1).Find(&s).Error; err != nil {
			return fmt.Errorf("find session: %w", err)
		}
		if s.ID == "" {
			return nil
		}
		if err := tx.Delete(&Session{}, "id = ?", s.ID).Error; err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		return kit.RecordAudit(tx, actor, "user.logout", "session", s.ID, nil)
	})
}

// EndSession ends one of the user's sessions. Another user's session is
// "not found", as is one already ended.
func (a *Accounts) EndSession(ctx context.Context, actor models.Actor, userID, sessionID string) error {
	defer usersOf(a.db).forgetUserSessions(userID)
	return a.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND user_id = ?", sessionID, userID).Delete(&Session{})
		if res.Error != nil {
			return fmt.Errorf("end session: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return models.NotFoundError("session")
		}
		return kit.RecordAudit(tx, actor, "user.session_end", "session", sessionID, map[string]any{"user_id": userID})
	})
}

// EndSessions ends every session of the user but keep (none if empty):
// "log out everywhere". It returns how many ended.
func (a *Accounts) EndSessions(ctx context.Context, actor models.Actor, userID, keep string) (int64, error) {
	defer usersOf(a.db).forgetUserSessions(userID)
	var n int64
	err := a.db.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		n, err = endSessionsTx(tx, userID, keep)
		if err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "user.sessions_end", "user", userID, map[string]any{"ended": n, "kept_current": keep != ""})
	})
	return n, err
}

func endSessionsTx(tx *gorm.DB, userID, keep string) (int64, error) {
	q := tx.Where("user_id = ?", userID)
	if keep != "" {
		q = q.Where("id <> ?", keep)
	}
	res := q.Delete(&Session{})
	if res.Error != nil {
		return 0, fmt.Errorf("end sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// clip keeps a header value storable: valid UTF-8 without NUL bytes (which
// PostgreSQL refuses), at most n bytes, cut at a character boundary.
func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
