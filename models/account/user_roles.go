package account

import (
	"fmt"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/internal/kit"
)

// userHasRole checks a role inside tx.
func UserHasRole(tx *gorm.DB, userID string, r Role) (bool, error) {
	if userID == "" {
		return false, nil
	}
	var n int64
	if err := tx.Model(&UserRole{}).Where("user_id = ? AND role = ?", userID, r).Count(&n).Error; err != nil {
		return false, fmt.Errorf("check role %s: %w", r, err)
	}
	return n > 0, nil
}

// SyncAppointedRoleTx makes userID hold role r exactly when want is true,
// as far as appointments decide it: a role wanted and not held is granted
// with source "appointment"; a role held by an administrator's grant and
// now wanted becomes appointed (so it ends with the term); a role not
// wanted is revoked only if an appointment gave it: a bootstrap grant
// stays until the membership ends (membership.endMembershipTx) or an
// administrator takes it. It reports whether anything changed.
func SyncAppointedRoleTx(tx *gorm.DB, actor models.Actor, userID string, r Role, want bool, now time.Time) (bool, error) {
	var held []UserRole
	if err := tx.Where("user_id = ? AND role = ?", userID, r).Find(&held).Error; err != nil {
		return false, fmt.Errorf("check role %s: %w", r, err)
	}
	switch {
	case want && len(held) == 0:
		if err := tx.Create(&UserRole{UserID: userID, Role: r, GrantedAt: now, Source: RoleSourceAppointment}).Error; err != nil {
			return false, fmt.Errorf("grant role %s: %w", r, err)
		}
		return true, kit.RecordAudit(tx, actor, "user.role_grant", "user", userID, map[string]any{"role": r, "source": RoleSourceAppointment})
	case want && held[0].Source != RoleSourceAppointment:
		if err := tx.Model(&UserRole{}).Where("user_id = ? AND role = ?", userID, r).Update("source", RoleSourceAppointment).Error; err != nil {
			return false, fmt.Errorf("mark role %s appointed: %w", r, err)
		}
		return true, nil
	case !want && len(held) > 0 && held[0].Source == RoleSourceAppointment:
		if err := tx.Where("user_id = ? AND role = ? AND source = ?", userID, r, RoleSourceAppointment).Delete(&UserRole{}).Error; err != nil {
			return false, fmt.Errorf("revoke role %s: %w", r, err)
		}
		return true, kit.RecordAudit(tx, actor, "user.role_revoke", "user", userID, map[string]any{"role": r, "source": RoleSourceAppointment})
	}
	return false, nil
}
