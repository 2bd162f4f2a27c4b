package account

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// tokenPrefix marks Allmende tokens, so secret scanners can recognise them.
const tokenPrefix = "alm_"

// APIToken is a personal access token. Only its SHA-256 is stored: the
// token has 160 random bits, so a slow hash adds nothing.
type APIToken struct {
	ID         string
	UserID     string
	Name       string
	Prefix     string // first characters, to tell tokens apart in lists
	TokenHash  string `json:"-"`
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Tokens issues, lists, checks and revokes personal access tokens.
type Tokens struct {
	db       *models.DB
	accounts *Accounts
}

func NewTokens(db *models.DB, accounts *Accounts) *Tokens { return &Tokens{db: db, accounts: accounts} }

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Create issues a token and returns its secret, which is shown once.
func (t *Tokens) Create(ctx context.Context, actor models.Actor, userID, name string) (*APIToken, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return nil, "", models.Invalid(map[string]string{"name": "Give the token a name of 1 to 100 characters."})
	}
	if kit.HasControl(name, false) {
		return nil, "", models.Invalid(map[string]string{"name": kit.ControlCharsMessage})
	}
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", fmt.Errorf("read token bytes: %w", err)
	}
	secret := tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	tok := &APIToken{
		ID: kit.NewID(), UserID: userID, Name: name, Prefix: secret[:len(tokenPrefix)+6],
		TokenHash: hashToken(secret), CreatedAt: time.Now().UTC(),
	}
	err := t.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(tok).Error; err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		return kit.RecordAudit(tx, actor, "token.create", "token", tok.ID, map[string]any{"name": name, "user_id": userID})
	})
	if err != nil {
		return nil, "", err
	}
	return tok, secret, nil
}

// List returns a user's tokens, newest first, revoked ones included.
func (t *Tokens) List(ctx context.Context, userID string) ([]APIToken, error) {
	var out []APIToken
	if err := t.db.Gorm.WithContext(ctx).Where("user_id = ?", userID).Order("id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// Revoke ends a token of the user. Another user's token is "not found".
func (t *Tokens) Revoke(ctx context.Context, actor models.Actor, userID, tokenID string) error {
	return t.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&APIToken{}).Where("id = ? AND user_id = ? AND revoked_at IS NULL", tokenID, userID).
			Update("revoked_at", time.Now().UTC())
		if res.Error != nil {
			return fmt.Errorf("revoke token: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return models.NotFoundError("token")
		}
		return kit.RecordAudit(tx, actor, "token.revoke", "token", tokenID, nil)
	})
}

// Authenticate resolves a bearer secret to its user.
func (t *Tokens) Authenticate(ctx context.Context, secret string) (*User, error) {
	unauthorized := &models.Error{Code: http.StatusUnauthorized, Safe: "invalid or revoked token"}
	if !strings.HasPrefix(secret, tokenPrefix) {
		return nil, unauthorized
	}
	var tok APIToken
	err := t.db.Gorm.WithContext(ctx).Where("token_hash = ? AND revoked_at IS NULL", hashToken(secret)).First(&tok).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, unauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	// Last use is informational; update it at most once a minute to keep
	// API calls from turning into writes.
	now := time.Now().UTC()
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > time.Minute {
		if err := t.db.Gorm.WithContext(ctx).Model(&APIToken{}).Where("id = ?", tok.ID).
			Update("last_used_at", now).Error; err != nil {
			return nil, fmt.Errorf("touch token: %w", err)
		}
	}
	u, err := t.accounts.Get(ctx, tok.UserID)
	if err != nil {
		return nil, err
	}
	if u.LockedAt != nil {
		return nil, unauthorized
	}
	return u, nil
}
