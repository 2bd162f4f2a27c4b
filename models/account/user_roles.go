package account

import (
	"fmt"

	"gorm.io/gorm"
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
