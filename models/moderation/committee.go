package moderation

import (
	"allmende/models/membership"
	"time"

	"gorm.io/gorm"
)

// ElectedCommittee is the appeals committee the general assembly elects:
// whoever holds an active appointment to membership's appeals_committee
// organ (the role appeals follows from it for the term).
type ElectedCommittee struct{ Organs *membership.Organs }

// InOffice asks the organs whether userID sits on the committee today
// (appointments are by day; at is the decision's moment, today).
func (c ElectedCommittee) InOffice(tx *gorm.DB, userID string, _ time.Time) (bool, error) {
	if userID == "" {
		return false, nil
	}
	return c.Organs.HoldsTx(tx, userID, membership.OrganAppealsCommittee)
}
