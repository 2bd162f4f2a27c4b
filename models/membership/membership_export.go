package membership

import (
	"allmende/models/account"
	"allmende/models/internal/kit"
	"context"
	"fmt"
	"time"
)

// PersonalData is everything the portal keeps about an account, for the
// right of access (Art. 15 GDPR), ready for encoding/json.
type PersonalData struct {
	ExportedAt  time.Time          `json:"exported_at"`
	Account     ExportAccount      `json:"account"`
	Memberships []MembershipExport `json:"memberships"`
}

// ExportAccount is the account without its secrets.
type ExportAccount struct {
	ID        string         `json:"id"`
	Email     string         `json:"email"`
	Name      string         `json:"name"`
	Roles     []account.Role `json:"roles"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// MembershipExport is one membership with its records.
type MembershipExport struct {
	Membership    Membership           `json:"membership"`
	Notices       []Notice             `json:"notices"`
	Events        []MembershipEvent    `json:"events"`
	ShareLedger   []ShareTransaction   `json:"share_ledger"`
	CapitalLedger []CapitalTransaction `json:"capital_ledger"`
	Refunds       []Refund             `json:"refunds"`
}

// Export collects userID's personal data.
func (s *Memberships) Export(ctx context.Context, userID string) (*PersonalData, error) {
	db := s.db.Gorm.WithContext(ctx)
	var u account.User
	if err := kit.First(db, &u, userID, "account"); err != nil {
		return nil, err
	}
	out := &PersonalData{ExportedAt: s.now(), Account: ExportAccount{ID: u.ID, Email: u.Email, Name: u.Name,
		Roles: []account.Role{}, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}, Memberships: []MembershipExport{}}
	if err := db.Model(&account.UserRole{}).Where("user_id = ?", u.ID).Order("role").Pluck("role", &out.Account.Roles).Error; err != nil {
		return nil, fmt.Errorf("export roles: %w", err)
	}
	var ms []Membership
	if err := db.Where("user_id = ?", u.ID).Order("created_at, id").Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("export memberships: %w", err)
	}
	for _, m := range ms {
		e := MembershipExport{Membership: m}
		for _, dst := range []any{&e.Notices, &e.Events, &e.ShareLedger, &e.CapitalLedger, &e.Refunds} {
			if err := db.Where("membership_id = ?", m.ID).Order("created_at, id").Find(dst).Error; err != nil {
				return nil, fmt.Errorf("export records of %s: %w", m.ID, err)
			}
		}
		out.Memberships = append(out.Memberships, e)
	}
	return out, nil
}
