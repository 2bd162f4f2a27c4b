package account

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Role is a capability an account holds; an account may hold several.
type Role string

const (
	RoleMember Role = "member" // admitted by the board; may use the cooperative's resources
	RoleBoard  Role = "board"  // admits members, runs general assemblies
	RoleAdmin  Role = "admin"  // runs hosts and the portal
	// Organ roles follow from appointments (membership.Organs): a seat on
	// the supervisory board, a seat on the appeals committee. The board
	// role does too, once appointed; an administrator's grant of it is
	// how the first board of a new installation begins.
	RoleSupervisory Role = "supervisory"
	RoleAppeals     Role = "appeals"
	// RoleModerator works on the moderation panel beside the admins:
	// cases, notes and sanctions, never appeals (models/moderation).
	RoleModerator Role = "moderator"
)

// Where a role comes from (user_roles.source).
const (
	RoleSourceGrant       = "grant"       // granted by an administrator or the command line
	RoleSourceAppointment = "appointment" // follows from an active appointment to an organ
)

// ParseRole accepts only the known roles.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleMember, RoleBoard, RoleAdmin, RoleSupervisory, RoleAppeals, RoleModerator:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want member, board, admin, supervisory, appeals or moderator)", s)
}

// User is an account. A fresh account holds no role until the board admits it.
type User struct {
	ID           string
	Email        string
	Name         string
	PasswordHash string     `json:"-"`
	LockedAt     *time.Time // set by an administrator: no login, no session, no API token
	Language     string     // "de" or "en"; empty: the browser's
	TimeZone     string     // an IANA zone such as "Europe/Berlin"; empty: the browser's
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Roles        []Role `gorm:"-"`
}

// Has reports whether the user holds role r.
func (u *User) Has(r Role) bool { return u != nil && slices.Contains(u.Roles, r) }

type UserRole struct {
	UserID    string
	Role      Role
	GrantedAt time.Time
	Source    string // RoleSourceGrant or RoleSourceAppointment
}

func (UserRole) TableName() string { return "user_roles" }

// Accounts registers users, checks their passwords and manages their roles.
type Accounts struct {
	db    *models.DB
	clock models.Clock
}

func NewAccounts(db *models.DB) *Accounts { return &Accounts{db: db, clock: models.SystemClock{}} }

// RegisterInput is what the registration form and `user create` submit.
type RegisterInput struct {
	Email    string
	Name     string
	Password string
	Roles    []Role
}

// Register creates an account. Bad input yields an *Error with field messages
// and writes nothing.
func (a *Accounts) Register(ctx context.Context, actor models.Actor, in RegisterInput) (*User, error) {
	in.Email = NormalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
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
		return nil, models.Invalid(fields)
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	u := &User{ID: kit.NewID(), Email: in.Email, Name: in.Name, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if actor.UserID == "" && actor.Email == "" {
		actor = models.Actor{UserID: u.ID, Email: u.Email, IP: actor.IP} // self-registration
	}
	err = a.db.Tx(ctx, func(tx *gorm.DB) error { return insertUserTx(tx, actor, u, in.Roles) })
	if err != nil {
		return nil, err
	}
	return u, nil
}

// insertUserTx stores a new account with its roles and the audit entry.
// An address that has an account is a field error: only an administrator
// (`user create`) or the address's owner (a confirmed registration) get here.
func insertUserTx(tx *gorm.DB, actor models.Actor, u *User, roles []Role) error {
	if err := tx.Create(u).Error; err != nil {
		if kit.IsUniqueViolation(err) {
			return models.Invalid(map[string]string{"email": "An account with this email address already exists."})
		}
		return fmt.Errorf("insert user: %w", err)
	}
	for _, r := range roles {
		if err := tx.Create(&UserRole{UserID: u.ID, Role: r, GrantedAt: u.CreatedAt, Source: RoleSourceGrant}).Error; err != nil {
			return fmt.Errorf("grant role %s: %w", r, err)
		}
	}
	u.Roles = roles
	return kit.RecordAudit(tx, actor, "user.register", "user", u.ID, map[string]any{"email": u.Email, "roles": roles})
}

// Get loads a user with roles. It runs on every signed-in request, so it
// is one query (user LEFT JOIN roles) on the read pool.
func (a *Accounts) Get(ctx context.Context, id string) (*User, error) {
	if u, ok := usersOf(a.db).get(id); ok {
		return u, nil
	}
	rows, err := a.db.Read.WithContext(ctx).Raw(`SELECT u.id, u.email, u.name, u.password_hash, u.locked_at, u.language, u.time_zone,
		u.created_at, u.updated_at, r.role FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
		WHERE u.id = ? ORDER BY r.role`, id).Rows()
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	defer rows.Close()
	var u *User
	for rows.Next() {
		var row User
		var role *string
		if err := rows.Scan(&row.ID, &row.Email, &row.Name, &row.PasswordHash, &row.LockedAt, &row.Language, &row.TimeZone,
			&row.CreatedAt, &row.UpdatedAt, &role); err != nil {
			return nil, fmt.Errorf("scan user %s: %w", id, err)
		}
		if u == nil {
			u = &row
		}
		if role != nil {
			u.Roles = append(u.Roles, Role(*role))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	if u == nil {
		return nil, models.NotFoundError("account")
	}
	usersOf(a.db).put(u)
	return u, nil
}

// ByEmail loads a user with roles by email address.
func (a *Accounts) ByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	err := a.db.Gorm.WithContext(ctx).First(&u, "email = ?", NormalizeEmail(email)).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, models.NotFoundError("account")
	}
	if err != nil {
		return nil, fmt.Errorf("load user by email: %w", err)
	}
	if err := a.loadRoles(ctx, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

func (a *Accounts) loadRoles(ctx context.Context, u *User) error {
	var roles []Role
	if err := a.db.Gorm.WithContext(ctx).Model(&UserRole{}).Where("user_id = ?", u.ID).
		Order("role").Pluck("role", &roles).Error; err != nil {
		return fmt.Errorf("load roles of %s: %w", u.ID, err)
	}
	u.Roles = roles
	return nil
}

// ChangePassword replaces the password after checking the current one, and
// ends every session of the account but keep (the one that changed it).
func (a *Accounts) ChangePassword(ctx context.Context, actor models.Actor, userID, keep, current, next string) error {
	u, err := a.Get(ctx, userID)
	if err != nil {
		return err
	}
	ok, err := CheckPassword(u.PasswordHash, current)
	if err != nil {
		return fmt.Errorf("check password of %s: %w", u.ID, err)
	}
	if !ok {
		return models.Invalid(map[string]string{"current": "This is not your current password."})
	}
	if m := validatePassword(next, u.Email); m != "" {
		return models.Invalid(map[string]string{"new": m})
	}
	hash, err := HashPassword(next)
	if err != nil {
		return err
	}
	defer usersOf(a.db).forgetUserSessions(u.ID) // after commit: other sessions end now
	return a.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
			"password_hash": hash, "updated_at": time.Now().UTC(),
		})
		if res.Error != nil {
			return fmt.Errorf("update password: %w", res.Error)
		}
		ended, err := endSessionsTx(tx, u.ID, keep)
		if err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "user.password_change", "user", u.ID, map[string]any{"sessions_ended": ended})
	})
}

// SetPreferences keeps the account's language ("de", "en", or "" for the
// browser's) and time zone (an IANA name, or "" for the browser's).
func (a *Accounts) SetPreferences(ctx context.Context, actor models.Actor, userID, lang, tz string) error {
	fields := map[string]string{}
	if lang != "" && lang != "de" && lang != "en" {
		fields["language"] = "Choose German or English."
	}
	if tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || len(tz) > 64 || strings.HasPrefix(tz, "/") {
			fields["time_zone"] = "Choose a time zone from the list."
		}
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	defer usersOf(a.db).forgetUserSessions(userID)
	defer usersOf(a.db).forget(userID)
	return a.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", userID).Updates(map[string]any{"language": lang, "time_zone": tz, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("update preferences: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return models.NotFoundError("account")
		}
		return kit.RecordAudit(tx, actor, "user.preferences", "user", userID, map[string]any{"language": lang, "time_zone": tz})
	})
}

// GrantRole gives a role; granting a held role is a no-op.
func (a *Accounts) GrantRole(ctx context.Context, actor models.Actor, userID string, r Role) error {
	defer usersOf(a.db).forget(userID)
	return a.db.Tx(ctx, func(tx *gorm.DB) error {
		return GrantRoleTx(tx, actor, userID, r)
	})
}

func GrantRoleTx(tx *gorm.DB, actor models.Actor, userID string, r Role) error {
	var n int64
	if err := tx.Model(&UserRole{}).Where("user_id = ? AND role = ?", userID, r).Count(&n).Error; err != nil {
		return fmt.Errorf("check role: %w", err)
	}
	if n > 0 {
		return nil
	}
	if err := tx.Create(&UserRole{UserID: userID, Role: r, GrantedAt: time.Now().UTC(), Source: RoleSourceGrant}).Error; err != nil {
		return fmt.Errorf("grant role %s: %w", r, err)
	}
	return kit.RecordAudit(tx, actor, "user.role_grant", "user", userID, map[string]any{"role": r})
}

// wrongLogin is deliberately the same for an unknown email and a wrong
// password, so the form does not reveal which accounts exist.
func wrongLogin() *models.Error {
	return &models.Error{Code: http.StatusUnauthorized, Safe: "The email address or password is wrong."}
}

// revokeRoleTx takes a role away inside tx; revoking a role not held is a
// no-op. The membership domain calls it when a membership ends.
func RevokeRoleTx(tx *gorm.DB, actor models.Actor, userID string, r Role) error {
	res := tx.Where("user_id = ? AND role = ?", userID, r).Delete(&UserRole{})
	if res.Error != nil {
		return fmt.Errorf("revoke role %s: %w", r, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil
	}
	return kit.RecordAudit(tx, actor, "user.role_revoke", "user", userID, map[string]any{"role": r})
}
