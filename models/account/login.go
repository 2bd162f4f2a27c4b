package account

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"fmt"
	"net/http"
	"time"

	"gorm.io/gorm"
)

// Login rate limits. Failed attempts are counted in the database rather
// than in memory, so the limit holds across several portal instances and
// restarts.
const (
	loginWindow         = 15 * time.Minute
	maxFailuresPerEmail = 5
	maxFailuresPerIP    = 20
)

type loginAttempt struct {
	ID        string
	Email     string
	IP        string `gorm:"column:ip"`
	Success   bool
	CreatedAt time.Time
}

func (loginAttempt) TableName() string { return "login_attempts" }

// Authenticate checks email and password for a login from ip. Too many
// recent failures for the account or the address answer 429 before the
// password is even checked.
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
	actor := models.Actor{Email: email, IP: ip}
	if u != nil {
		actor.UserID = u.ID
	}
	action, targetID := "user.login_failed", ""
	if ok {
		action, targetID = "user.login", u.ID
	}
	err = a.db.Tx(ctx, func(tx *gorm.DB) error {
		att := loginAttempt{ID: kit.NewID(), Email: email, IP: ip, Success: ok, CreatedAt: time.Now().UTC()}
		if err := tx.Create(&att).Error; err != nil {
			return fmt.Errorf("record login attempt: %w", err)
		}
		return kit.RecordAudit(tx, actor, action, "user", targetID, nil)
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, wrongLogin()
	}
	return u, nil
}

func (a *Accounts) checkLoginRate(ctx context.Context, ip, email string) error {
	since := time.Now().UTC().Add(-loginWindow)
	var byEmail, byIP int64
	q := a.db.Gorm.WithContext(ctx).Model(&loginAttempt{})
	if err := q.Where("email = ? AND success = ? AND created_at > ?", email, false, since).Count(&byEmail).Error; err != nil {
		return fmt.Errorf("count login failures: %w", err)
	}
	q = a.db.Gorm.WithContext(ctx).Model(&loginAttempt{})
	if err := q.Where("ip = ? AND success = ? AND created_at > ?", ip, false, since).Count(&byIP).Error; err != nil {
		return fmt.Errorf("count login failures: %w", err)
	}
	if byEmail >= maxFailuresPerEmail || byIP >= maxFailuresPerIP {
		return &models.Error{Code: http.StatusTooManyRequests,
			Safe: "Too many failed logins. Please wait 15 minutes and try again."}
	}
	return nil
}
