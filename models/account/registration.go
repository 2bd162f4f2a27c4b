package account

import (
	"allmende/i18n"
	"context"
	"crypto/rand"
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

// Registrations is self-service sign-up that does not tell anyone whether
// an address already has an account: whoever registers is asked for a code
// mailed to the address. A new address gets the code, and the account is
// made when the code comes back; an address with an account gets a mail to
// its owner instead. The answer to the form is the same in both cases, and
// so is the work done (the password is hashed either way).
type Registrations struct {
	db       *models.DB
	queue    models.Queue
	accounts *Accounts
}

func NewRegistrations(db *models.DB, queue models.Queue, accounts *Accounts) *Registrations {
	return &Registrations{db: db, queue: queue, accounts: accounts}
}

type registrationRow struct {
	ID, Email, Name, PasswordHash, CodeHash string
	Attempts                                int
	CreatedAt, ExpiresAt                    time.Time
}

func (registrationRow) TableName() string { return "registrations" }

const (
	registrationTTL     = time.Hour
	registrationRetries = 5 // wrong codes before the registration is dropped
	codeAlphabet        = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	codeLength          = 10
)

// errBadCode is the one answer to a wrong, used or expired code, whether or
// not a registration is waiting for the address.
var errBadCode = models.Invalid(map[string]string{"code": "This code is wrong or has expired. Register again to get a new one."})

func newCode() (string, error) {
	b := make([]byte, codeLength)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read code bytes: %w", err)
	}
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b), nil
}

// Start takes the registration form. Bad input is a field error as in
// Register (it does not depend on the address being known); otherwise the
// code or the note to the owner is mailed, in the same transaction.
func (r *Registrations) Start(ctx context.Context, ip string, in RegisterInput) error {
	in.Email, in.Name, in.Roles = NormalizeEmail(in.Email), strings.TrimSpace(in.Name), nil
	fields := map[string]string{}
	if m := validateEmail(in.Email); m != "" {
		fields["email"] = m
	}
	if m := validateName(in.Name); m != "" {
		fields["name"] = m
	}
	if m := validatePassword(in.Password, in.Email); m != "" {
		fields["password"] = m
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return err
	}
	code, err := newCode()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		var owner User
		err := tx.Select("id", "email", "name", "language", "time_zone").Where("email = ?", in.Email).Take(&owner).Error
		switch {
		case err == nil:
			if err := kit.RecordAudit(tx, models.Actor{IP: ip}, "user.register_known", "user", owner.ID, nil); err != nil {
				return err
			}
			_, err := kit.Enqueue(ctx, r.queue, tx, mailRegisterKnown(Recipient{Email: owner.Email, Name: owner.Name, Language: owner.Language, TimeZone: owner.TimeZone}.AskedLocale(ctx), owner.Email, owner.Name), nil)
			return err
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return fmt.Errorf("look up %s: %w", in.Email, err)
		}
		// A new registration for the address replaces a waiting one.
		if err := tx.Where("email = ?", in.Email).Delete(&registrationRow{}).Error; err != nil {
			return fmt.Errorf("drop waiting registration: %w", err)
		}
		row := registrationRow{ID: kit.NewID(), Email: in.Email, Name: in.Name, PasswordHash: hash, CodeHash: hashToken(code),
			CreatedAt: now, ExpiresAt: now.Add(registrationTTL)}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert registration: %w", err)
		}
		_, err = kit.Enqueue(ctx, r.queue, tx, mailRegisterCode(ctx, in.Email, in.Name, code), nil)
		return err
	})
}

// Confirm makes the account of a waiting registration when its code comes
// back; the caller signs the new user in. A wrong code counts against the
// registration, which goes after registrationRetries.
func (r *Registrations) Confirm(ctx context.Context, ip, email, code string) (*User, error) {
	email = NormalizeEmail(email)
	code = strings.ToUpper(strings.Join(strings.Fields(code), ""))
	var u *User
	var wrong bool
	err := r.db.Tx(ctx, func(tx *gorm.DB) error {
		var row registrationRow
		err := kit.ForUpdate(tx).Where("email = ?", email).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return errBadCode
		}
		if err != nil {
			return fmt.Errorf("load registration: %w", err)
		}
		now := time.Now().UTC()
		if now.After(row.ExpiresAt) || subtle.ConstantTimeCompare([]byte(hashToken(code)), []byte(row.CodeHash)) != 1 {
			wrong = true
			q := tx.Model(&registrationRow{}).Where("id = ?", row.ID)
			if now.After(row.ExpiresAt) || row.Attempts+1 >= registrationRetries {
				err = tx.Delete(&registrationRow{}, "id = ?", row.ID).Error
			} else {
				err = q.Update("attempts", row.Attempts+1).Error
			}
			if err != nil {
				return fmt.Errorf("count wrong code: %w", err)
			}
			return nil // commit the count; the caller answers errBadCode
		}
		if err := tx.Delete(&registrationRow{}, "id = ?", row.ID).Error; err != nil {
			return fmt.Errorf("drop registration: %w", err)
		}
		u = &User{ID: kit.NewID(), Email: row.Email, Name: row.Name, PasswordHash: row.PasswordHash, CreatedAt: now, UpdatedAt: now}
		return insertUserTx(tx, models.Actor{UserID: u.ID, Email: u.Email, IP: ip}, u, nil)
	})
	if err != nil {
		return nil, err
	}
	if wrong {
		return nil, errBadCode
	}
	return u, nil
}

// The registration mails are in the language of the page that asked
// for them (or of the existing account).
func mailRegisterCode(ctx context.Context, to, name, code string) jobargs.SendMail {
	return jobargs.SendMail{To: to, Subject: i18n.T(ctx, "Your registration code"),
		Body: i18n.T(ctx, "Hello %s,\n\nto finish creating your account, enter this code on the registration page:\n\n    %s\n\n"+
			"The code is valid for one hour. If you did not register, ignore this mail; no account is made without the code.\n", name, code)}
}

func mailRegisterKnown(ctx context.Context, to, name string) jobargs.SendMail {
	return jobargs.SendMail{To: to, Subject: i18n.T(ctx, "Someone tried to register with your address"),
		Body: i18n.T(ctx, "Hello %s,\n\nsomeone tried to create an account with this address, which already has one. "+
			"If it was you, log in with your password instead. If it was not you, you can ignore this mail: nothing has changed.\n", name)}
}
