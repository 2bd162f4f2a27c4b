package account

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// The login throttle (issue 9, item 3). Failed attempts are counted in the
// database rather than in memory, so the limits hold across several portal
// instances and restarts. They are counted per (account, address) and per
// address, never per account alone: failures from one address must not keep
// the account's owner out from another, or anyone could keep a member out
// of a vote.
//
//   - Per (account, address): the first freeFailures failures in the window
//     (since the pair's last success) cost nothing; after that each try must
//     wait 2^(n-freeFailures) seconds after the last failure, at most
//     maxPairDelay. Slowing down rather than locking: the owner who mistypes
//     a few times waits seconds, a guesser from there gets ~one try in 15
//     minutes.
//   - Per address: maxFailuresPerIP failures across accounts in the window
//     refuse the address until the oldest of them leaves the window.
//
// A refused try answers 429 with the time to wait (LoginThrottled) and is
// not recorded: it checked no password.
const (
	loginWindow      = 15 * time.Minute
	freeFailures     = 3
	maxPairDelay     = loginWindow
	maxFailuresPerIP = 20
)

type loginAttempt struct {
	ID        string
	Email     string
	IP        string `gorm:"column:ip"`
	Success   bool
	CreatedAt time.Time
}

func (loginAttempt) TableName() string { return "login_attempts" }

// LoginThrottled is the cause of Authenticate's 429: how long to wait, and
// whether the (account, address) pair or the whole address is slowed down.
type LoginThrottled struct {
	RetryAfter time.Duration
	Scope      string // "account+address" or "address"
	Failures   int    // the failures counted for that scope
}

func (e *LoginThrottled) Error() string {
	return fmt.Sprintf("login throttled per %s after %d failures, retry after %s", e.Scope, e.Failures, e.RetryAfter)
}

// RetryAfterSeconds is the Retry-After header's value, at least 1.
func (e *LoginThrottled) RetryAfterSeconds() string {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return strconv.Itoa(max(s, 1))
}

// Authenticate checks email and password for a login from ip. An address
// that has been failing is slowed down (429) before the password is even
// checked; a locked account is refused after it.
func (a *Accounts) Authenticate(ctx context.Context, ip, email, password string) (*User, error) {
	email = NormalizeEmail(email)
	if email == "" || password == "" {
		return nil, wrongLogin()
	}
	if err := a.checkLoginRate(ctx, ip, email); err != nil {
		return nil, err
	}
	u, err := a.ByEmail(ctx, email)
	if models.IsNotFound(err) {
		// Spend the same time as for a real account, so timing does not
		// reveal which emails exist.
		_, _ = CheckPassword(dummyHash, password)
		u = nil
	} else if err != nil {
		return nil, err
	}
	ok := false
	if u != nil {
		if ok, err = CheckPassword(u.PasswordHash, password); err != nil {
			return nil, fmt.Errorf("check password of %s: %w", u.ID, err)
		}
	}
	locked := ok && u.LockedAt != nil
	actor := models.Actor{Email: email, IP: ip}
	if u != nil {
		actor.UserID = u.ID
	}
	action, targetID := "user.login_failed", ""
	switch {
	case locked:
		action, targetID = "user.login_locked", u.ID
	case ok:
		action, targetID = "user.login", u.ID
	}
	err = a.db.Tx(ctx, func(tx *gorm.DB) error {
		att := loginAttempt{ID: kit.NewID(), Email: email, IP: ip, Success: ok && !locked, CreatedAt: a.now()}
		if err := tx.Create(&att).Error; err != nil {
			return fmt.Errorf("record login attempt: %w", err)
		}
		return kit.RecordAudit(tx, actor, action, "user", targetID, nil)
	})
	if err != nil {
		return nil, err
	}
	if locked {
		return nil, &models.Error{Code: http.StatusForbidden,
			Safe: "This account is locked. Please contact the cooperative's administrators."}
	}
	if !ok {
		return nil, wrongLogin()
	}
	return u, nil
}

// checkLoginRate answers 429 while the (account, address) pair or the
// address has to wait. Two indexed reads of at most maxFailuresPerIP rows.
func (a *Accounts) checkLoginRate(ctx context.Context, ip, email string) error {
	now := a.now()
	since := now.Add(-loginWindow)
	// The pair's recent attempts, newest first, up to its last success.
	var pair []loginAttempt
	if err := a.db.Gorm.WithContext(ctx).Select("success", "created_at").
		Where("email = ? AND ip = ? AND created_at > ?", email, ip, since).
		Order("created_at DESC").Limit(maxFailuresPerIP).Find(&pair).Error; err != nil {
		return fmt.Errorf("count login failures: %w", err)
	}
	n := 0
	for _, at := range pair {
		if at.Success {
			break
		}
		n++
	}
	if n >= freeFailures {
		wait := maxPairDelay
		if k := n - freeFailures; k < 20 {
			wait = min(time.Duration(1<<k)*time.Second, maxPairDelay)
		}
		if left := pair[0].CreatedAt.Add(wait).Sub(now); left > 0 {
			return throttled(&LoginThrottled{RetryAfter: left, Scope: "account+address", Failures: n})
		}
	}
	var byIP []time.Time
	if err := a.db.Gorm.WithContext(ctx).Model(&loginAttempt{}).
		Where("ip = ? AND success = ? AND created_at > ?", ip, false, since).
		Order("created_at DESC").Limit(maxFailuresPerIP).Pluck("created_at", &byIP).Error; err != nil {
		return fmt.Errorf("count login failures: %w", err)
	}
	if len(byIP) >= maxFailuresPerIP {
		left := byIP[len(byIP)-1].Add(loginWindow).Sub(now)
		return throttled(&LoginThrottled{RetryAfter: max(left, time.Second), Scope: "address", Failures: len(byIP)})
	}
	return nil
}

func throttled(t *LoginThrottled) *models.Error {
	msg := "Too many failed logins from your address. Please wait " + humanWait(t.RetryAfter) + " and try again."
	return &models.Error{Code: http.StatusTooManyRequests, Safe: msg, Err: t}
}

func humanWait(d time.Duration) string {
	if s := int((d + time.Second - 1) / time.Second); s < 120 {
		if s <= 1 {
			return "a second"
		}
		return strconv.Itoa(s) + " seconds"
	}
	return strconv.Itoa(int((d+time.Minute-1)/time.Minute)) + " minutes"
}
