package account

import (
	"allmende/i18n"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/internal/kit"
)

// PasswordResets lets someone who forgot their password set a new one with
// a code mailed to the account's address. Like registration it tells no one
// whether an address has an account: the request form answers the same for
// every address, and only an account's owner gets a mail. The code is sent
// rather than a link because a link would be built from the request's Host
// header, which whoever asks for the reset controls.
//
// A code is single-use, expires after resetTTL, allows resetRetries wrong
// tries, and an account gets at most resetsPerHour codes an hour (further
// requests are answered the same and send nothing). Setting the new
// password ends every session of the account.
type PasswordResets struct {
	db    *models.DB
	queue models.Queue
}

func NewPasswordResets(db *models.DB, queue models.Queue) *PasswordResets {
	return &PasswordResets{db: db, queue: queue}
}

type passwordResetRow struct {
	ID, UserID, CodeHash, IP string
	Attempts                 int
	CreatedAt, ExpiresAt     time.Time
	UsedAt                   *time.Time
}

func (passwordResetRow) TableName() string { return "password_resets" }

const (
	resetTTL      = 30 * time.Minute
	resetRetries  = 5
	resetsPerHour = 3
)

// errBadResetCode is the one answer to a wrong, used or expired code and to
// an address without an account.
var errBadResetCode = models.Invalid(map[string]string{"code": "This code is wrong or has expired. Ask for a new one."})

// Request mails a reset code to the account of email, if there is one and
// it has not had resetsPerHour codes in the last hour. Every well-formed
// address gets the same answer (nil).
func (r *PasswordResets) Request(ctx context.Context, ip, email string) error {
	email = NormalizeEmail(email)
	if m := validateEmail(email); m != "" {
		return models.Invalid(map[string]string{"email": m})
	}
	code, err := newCode()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		var u User
		err := tx.Select("id", "email", "name", "locked_at", "language", "time_zone").Where("email = ?", email).Take(&u).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("look up %s: %w", email, err)
		}
		if u.LockedAt != nil {
			return nil // a locked account stays locked; an administrator unlocks it
		}
		var recent int64
		if err := tx.Model(&passwordResetRow{}).Where("user_id = ? AND created_at > ?", u.ID, now.Add(-time.Hour)).Count(&recent).Error; err != nil {
			return fmt.Errorf("count resets: %w", err)
		}
		if recent >= resetsPerHour {
			return kit.RecordAudit(tx, models.Actor{IP: ip}, "user.password_reset_throttled", "user", u.ID, nil)
		}
		// A new code replaces the codes still open.
		if err := tx.Model(&passwordResetRow{}).Where("user_id = ? AND used_at IS NULL", u.ID).Update("expires_at", now).Error; err != nil {
			return fmt.Errorf("expire open codes: %w", err)
		}
		row := passwordResetRow{ID: kit.NewID(), UserID: u.ID, CodeHash: hashToken(code), IP: ip, CreatedAt: now, ExpiresAt: now.Add(resetTTL)}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert password reset: %w", err)
		}
		if err := kit.RecordAudit(tx, models.Actor{IP: ip}, "user.password_reset_request", "user", u.ID, nil); err != nil {
			return err
		}
		_, err = kit.Enqueue(ctx, r.queue, tx, mailResetCode(Recipient{ID: u.ID, Email: u.Email, Name: u.Name, Language: u.Language, TimeZone: u.TimeZone}.AskedLocale(ctx), u.Email, u.Name, code), nil)
		return err
	})
}

// Reset sets a new password when email's code is right, and ends every
// session of the account. The caller then asks the person to log in.
func (r *PasswordResets) Reset(ctx context.Context, ip, email, code, password string) error {
	email = NormalizeEmail(email)
	code = strings.ToUpper(strings.Join(strings.Fields(code), ""))
	if code == "" {
		return models.Invalid(map[string]string{"code": "Enter the code from the mail."})
	}
	var u User
	var wrong bool
	err := r.db.Tx(ctx, func(tx *gorm.DB) error {
		err := tx.Select("id", "email").Where("email = ?", email).Take(&u).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return errBadResetCode
		}
		if err != nil {
			return fmt.Errorf("look up %s: %w", email, err)
		}
		now := time.Now().UTC()
		var row passwordResetRow
		err = kit.ForUpdate(tx).Where("user_id = ? AND used_at IS NULL AND expires_at > ?", u.ID, now).
			Order("created_at DESC").Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return errBadResetCode
		}
		if err != nil {
			return fmt.Errorf("load password reset: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(hashToken(code)), []byte(row.CodeHash)) != 1 {
			wrong = true
			upd := map[string]any{"attempts": row.Attempts + 1}
			if row.Attempts+1 >= resetRetries {
				upd["expires_at"] = now
			}
			if err := tx.Model(&passwordResetRow{}).Where("id = ?", row.ID).Updates(upd).Error; err != nil {
				return fmt.Errorf("count wrong code: %w", err)
			}
			return nil // commit the count; the caller answers errBadResetCode
		}
		// The code is right: now the password must be acceptable. A weak
		// password leaves the code usable for a second try.
		if m := validatePassword(password, u.Email); m != "" {
			return models.Invalid(map[string]string{"password": m})
		}
		hash, err := HashPassword(password)
		if err != nil {
			return err
		}
		if err := tx.Model(&passwordResetRow{}).Where("id = ?", row.ID).Update("used_at", now).Error; err != nil {
			return fmt.Errorf("use code: %w", err)
		}
		if err := tx.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{"password_hash": hash, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("update password: %w", err)
		}
		ended, err := endSessionsTx(tx, u.ID, "")
		if err != nil {
			return err
		}
		return kit.RecordAudit(tx, models.Actor{UserID: u.ID, Email: u.Email, IP: ip}, "user.password_reset", "user", u.ID,
			map[string]any{"sessions_ended": ended})
	})
	if err != nil {
		return err
	}
	if wrong {
		return errBadResetCode
	}
	usersOf(r.db).forgetUserSessions(u.ID)
	return nil
}

// mailResetCode is in the account's language, or the language of the
// page that asked for it.
func mailResetCode(ctx context.Context, to, name, code string) jobargs.SendMail {
	return jobargs.SendMail{To: to, Subject: i18n.T(ctx, "Your code to set a new password"),
		Body: i18n.T(ctx, "Hello %s,\n\nto set a new password, enter this code on the page where you asked for it:\n\n    %s\n\n"+
			"The code is valid for 30 minutes and once. If you did not ask for it, ignore this mail: your password stays as it is.\n",
			name, code)}
}
