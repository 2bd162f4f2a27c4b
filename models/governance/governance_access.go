package governance

import (
	"allmende/models"
	"allmende/models/account"
	"fmt"

	"gorm.io/gorm"
)

// requireRole checks that the viewer holds role r.
func requireRole(tx *gorm.DB, v models.Viewer, r account.Role, msg string) error {
	ok, err := account.UserHasRole(tx, v.UserID, r)
	if err != nil {
		return err
	}
	if !ok {
		return models.Forbidden(msg)
	}
	return nil
}

// requireMemberOrBoard lets members, the board and admins read the
// cooperative's self-government; it is not public.
func requireMemberOrBoard(tx *gorm.DB, v models.Viewer) error {
	if v.Admin {
		return nil
	}
	if v.UserID != "" {
		var n int64
		if err := tx.Model(&account.UserRole{}).Where("user_id = ? AND role IN ?", v.UserID, []account.Role{account.RoleMember, account.RoleBoard}).Count(&n).Error; err != nil {
			return fmt.Errorf("check roles: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
	return models.Forbidden("Only members of the cooperative can see this.")
}
