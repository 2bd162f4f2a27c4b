package models

import (
	"fmt"

	"gorm.io/gorm"
)

// requireRole checks that the viewer holds role r.
func requireRole(tx *gorm.DB, v Viewer, r Role, msg string) error {
	ok, err := userHasRole(tx, v.UserID, r)
	if err != nil {
		return err
	}
	if !ok {
		return Forbidden(msg)
	}
	return nil
}

// requireMemberOrBoard lets members, the board and admins read the
// cooperative's self-government; it is not public.
func requireMemberOrBoard(tx *gorm.DB, v Viewer) error {
	if v.Admin {
		return nil
	}
	if v.UserID != "" {
		var n int64
		if err := tx.Model(&userRole{}).Where("user_id = ? AND role IN ?", v.UserID, []Role{RoleMember, RoleBoard}).Count(&n).Error; err != nil {
			return fmt.Errorf("check roles: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
	return Forbidden("Only members of the cooperative can see this.")
}
