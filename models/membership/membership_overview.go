package membership

import (
	"allmende/models/rulebook"
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// MembershipOverview is the member's page, and the board's view of a member.
type MembershipOverview struct {
	Membership             Membership
	SharesSubscribed       int
	SharesPaid             int // shares fully covered by paid-in capital
	SharesUnderNotice      int // under open partial notices
	CapitalSubscribedCents int64
	CapitalPaidCents       int64
	Entitlement            rulebook.Entitlement // from paid shares
	Notices                []Notice             // newest first, open, withdrawn and effective
	NoticePreview          time.Time            // when a notice given today would take effect
	Approvals              []Approval           // while an applicant
	ApprovalsNeeded        int
	History                []MembershipEvent
	ShareLedger            []ShareTransaction
	CapitalLedger          []CapitalTransaction
	Refunds                []Refund
	Rules                  rulebook.RuleParams
	Today                  time.Time
	Exclusion              *Exclusion        // the latest proceedings, if any (exclusion.go)
	Seats                  []Appointment     // appointments to organs, newest first (organs.go)
	FurtherShares          []FurtherShares   // declarations of further shares, newest first
	Transfers              []CapitalTransfer // §76 transfers given or received, newest first
	// The member's own page only: rights of extraordinary notice after a
	// change of the bylaws they objected to (§67a GenG, notice_67a.go).
	ExtraordinaryRights []ExtraordinaryRight
}

// PendingShares counts further shares awaiting the board's admission.
func (o *MembershipOverview) PendingShares() int {
	n := 0
	for _, f := range o.FurtherShares {
		if f.Status == SubscriptionPending {
			n += f.Shares
		}
	}
	return n
}

// OpenNotices returns the notices that have not yet taken effect.
func (o *MembershipOverview) OpenNotices() []Notice {
	var out []Notice
	for _, n := range o.Notices {
		if n.Status() == "open" {
			out = append(out, n)
		}
	}
	return out
}

// Overview is userID's membership page. Former and excluded members keep
// reading it; an account that never applied (or was rejected) gets NotFound.
func (s *Memberships) Overview(ctx context.Context, userID string) (*MembershipOverview, error) {
	db := s.db.Gorm.WithContext(ctx)
	m, err := latestMembership(db, userID, false)
	if err != nil {
		return nil, err
	}
	o, err := s.overview(db, m)
	if err != nil {
		return nil, err
	}
	if m.Status == StatusMember || m.Status == StatusLeaving {
		if o.ExtraordinaryRights, err = s.openRights(db, userID); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Member is the board's page of one membership.
func (s *Memberships) Member(ctx context.Context, membershipID string) (*MembershipOverview, error) {
	db := s.db.Gorm.WithContext(ctx)
	m, err := loadMembership(db, membershipID, false)
	if err != nil {
		return nil, err
	}
	return s.overview(db, m)
}

func (s *Memberships) overview(db *gorm.DB, m *Membership) (*MembershipOverview, error) {
	p, err := rulebook.RulesAt(db, s.now())
	if err != nil {
		return nil, err
	}
	o := &MembershipOverview{Membership: *m, Rules: p, ApprovalsNeeded: p.AdmissionApprovals, Today: s.today(),
		NoticePreview: NoticeEffectiveDate(s.today(), p)}
	if o.SharesSubscribed, err = shareBalance(db, m.ID); err != nil {
		return nil, err
	}
	if o.CapitalPaidCents, err = capitalBalance(db, m.ID); err != nil {
		return nil, err
	}
	if o.SharesUnderNotice, err = openNoticedShares(db, m.ID); err != nil {
		return nil, err
	}
	o.CapitalSubscribedCents = int64(o.SharesSubscribed) * p.SharePriceCents
	if err := db.Where("membership_id = ?", m.ID).Order("declared_at DESC, id DESC").Find(&o.FurtherShares).Error; err != nil {
		return nil, fmt.Errorf("load further shares of %s: %w", m.ID, err)
	}
	if o.Transfers, err = transfersOf(db, m.ID); err != nil {
		return nil, err
	}
	if o.Exclusion, err = latestExclusion(db, m.ID); err != nil {
		return nil, err
	}
	if err := appointmentRows(db).Where("a.membership_id = ?", m.ID).Order("a.term_start DESC, a.id").Scan(&o.Seats).Error; err != nil {
		return nil, fmt.Errorf("load seats of %s: %w", m.ID, err)
	}
	o.SharesPaid = paidShares(o.SharesSubscribed, o.CapitalPaidCents, p.SharePriceCents)
	o.Entitlement = p.EntitlementPerShare.Times(o.SharesPaid)
	if m.Status == StatusApplicant {
		if o.Approvals, err = approvalsOf(db, m.ID); err != nil {
			return nil, err
		}
	}
	for _, q := range []struct {
		dst   any
		order string
	}{
		{&o.Notices, "created_at DESC, id DESC"},
		{&o.History, "effective_date, created_at, id"},
		{&o.ShareLedger, "effective_date, created_at, id"},
		{&o.CapitalLedger, "effective_date, created_at, id"},
		{&o.Refunds, "due_on, id"},
	} {
		if err := db.Where("membership_id = ?", m.ID).Order(q.order).Find(q.dst).Error; err != nil {
			return nil, fmt.Errorf("load overview of %s: %w", m.ID, err)
		}
	}
	return o, nil
}
