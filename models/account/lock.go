package account

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Lock shuts an account out: its sessions end, its password no longer logs
// in and its API tokens are refused until Unlock. There is no admin page for
// accounts yet, so `allmende user lock --email` is the way in.
func (a *Accounts) Lock(ctx context.Context, actor models.Actor, email string) (*User, error) {
	return a.setLocked(ctx, actor, email, true)
}

// Unlock lets a locked account log in again.
func (a *Accounts) Unlock(ctx context.Context, actor models.Actor, email string) (*User, error) {
	return a.setLocked(ctx, actor, email, false)
}

func (a *Accounts) setLocked(ctx context.Context, actor models.Actor, email string, lock bool) (*User, error) {
	u, err := a.ByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	defer usersOf(a.db).forgetUserSessions(u.ID)
	err = a.db.Tx(ctx, func(tx *gorm.DB) error {
		if !lock {
			if err := tx.Model(&User{}).Where("id = ?", u.ID).Update("locked_at", nil).Error; err != nil {
				return fmt.Errorf("unlock account: %w", err)
			}
			return kit.RecordAudit(tx, actor, "user.unlock", "user", u.ID, nil)
		}
		now := a.now()
		if err := tx.Model(&User{}).Where("id = ? AND locked_at IS NULL", u.ID).Update("locked_at", now).Error; err != nil {
			return fmt.Errorf("lock account: %w", err)
		}
		ended, err := endSessionsTx(tx, u.ID, "")
		if err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "user.lock", "user", u.ID, map[string]any{"sessions_ended": ended})
	})
	if err != nil {
		return nil, err
	}
	return a.ByEmail(ctx, email)
}
