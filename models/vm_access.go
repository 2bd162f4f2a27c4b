package models

import (
	"gorm.io/gorm"
)

// Viewer is on whose behalf a VM-area service reads or writes. Members see
// only what they own; another member's VM, task or key is "not found", so
// that ids cannot be probed. Admins see everything.
type Viewer struct {
	UserID string
	Admin  bool
}

// owns reports whether v may see a row owned by ownerID.
func (v Viewer) Owns(ownerID string) bool {
	return v.Admin || (v.UserID != "" && v.UserID == ownerID)
}

// scope narrows a query to the rows v may see; column is the owner column.
func (v Viewer) Scope(q *gorm.DB, column string) *gorm.DB {
	if v.Admin {
		return q
	}
	return q.Where(column+" = ?", v.UserID)
}
