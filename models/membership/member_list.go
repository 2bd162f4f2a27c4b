package membership

// The member list every member may inspect (§31(1) GenG): names,
// addresses, shares and the dates of joining and leaving — no reasons for
// leaving, no bank data, nothing of the capital accounts. And a copy of a
// member's own entries (§31(1) sentence 2).

import (
	"context"
	"fmt"
	"strings"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
)

// MemberListEntry is one line of the member list.
type MemberListEntry struct {
	MemberNumber int64
	Name         string
	Street       string
	PostalCode   string
	City         string
	Country      string
	Shares       int
	AdmittedOn   time.Time
	LeftOn       *time.Time
}

// MemberList is the list for members to inspect, by member number. Only
// members (and the board) may read it.
func (s *Memberships) MemberList(ctx context.Context, v models.Viewer) ([]MemberListEntry, error) {
	db := s.db.Gorm.WithContext(ctx)
	allowed := false
	for _, r := range []account.Role{account.RoleMember, account.RoleBoard} {
		ok, err := account.UserHasRole(db, v.UserID, r)
		if err != nil {
			return nil, err
		}
		allowed = allowed || ok
	}
	if !allowed {
		return nil, models.Forbidden("Only members can inspect the member list.")
	}
	var out []MemberListEntry
	err := db.Table("memberships m").
		Select(`m.member_number, CASE WHEN m.person_kind = ? AND m.organisation <> '' THEN m.organisation ELSE m.legal_name END AS name,
			m.street, m.postal_code, m.city, m.country, m.admitted_on, m.left_on,
			(SELECT CAST(COALESCE(SUM(t.shares), 0) AS BIGINT) FROM share_transactions t WHERE t.membership_id = m.id) AS shares`, PersonLegal).
		Where("m.member_number IS NOT NULL AND m.purged_at IS NULL").Order("m.member_number").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("read member list: %w", err)
	}
	return out, nil
}

// OwnEntries is a copy of userID's entries in the member list and the
// register, as plain text.
func (s *Memberships) OwnEntries(ctx context.Context, userID string) (string, error) {
	o, err := s.Overview(ctx, userID)
	if err != nil {
		return "", err
	}
	m := o.Membership
	if m.MemberNumber == nil {
		return "", models.NotFoundError("register entry")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Copy of the entries in the member list (§31 GenG), made %s\n\n", kit.FormatDate(s.today()))
	fmt.Fprintf(&b, "Member number: %d\nName: %s\n", *m.MemberNumber, m.DisplayName())
	if m.PersonKind == PersonLegal {
		fmt.Fprintf(&b, "Represented by: %s\n", m.Representative)
	}
	fmt.Fprintf(&b, "Address: %s, %s %s, %s\n", m.Street, m.PostalCode, m.City, m.Country)
	if m.AdmittedOn != nil {
		fmt.Fprintf(&b, "Admitted: %s\n", kit.FormatDate(*m.AdmittedOn))
	}
	fmt.Fprintf(&b, "Shares held: %d\n", o.SharesSubscribed)
	if m.LeftOn != nil {
		fmt.Fprintf(&b, "Left: %s\n", kit.FormatDate(*m.LeftOn))
	}
	b.WriteString("\nEntries:\n")
	for _, ev := range o.History {
		fmt.Fprintf(&b, "%s  %s  %s\n", kit.FormatDate(ev.EffectiveDate), ev.Kind, ev.Detail)
	}
	b.WriteString("\nShare ledger:\n")
	for _, t := range o.ShareLedger {
		fmt.Fprintf(&b, "%s  %s  %+d  %s\n", kit.FormatDate(t.EffectiveDate), t.Kind, t.Shares, t.Note)
	}
	return b.String(), nil
}
