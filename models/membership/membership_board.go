package membership

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
)

// ApplicationSummary is one line of the board's list of applications.
type ApplicationSummary struct {
	ID              string
	UserID          string
	Email           string
	Name            string // as in the register: the organisation for legal persons
	PersonKind      string
	Shares          int
	AppliedAt       time.Time
	Approvals       []Approval
	ApprovalsNeeded int
}

// ApplicationDetail is everything the board needs to decide.
type ApplicationDetail struct {
	Membership      Membership
	Email           string
	Approvals       []Approval
	ApprovalsNeeded int
}

// Applications lists open applications, oldest first.
func (s *Memberships) Applications(ctx context.Context) ([]ApplicationSummary, error) {
	db := s.db.Gorm.WithContext(ctx)
	p, err := rulebook.RulesAt(db, s.now())
	if err != nil {
		return nil, err
	}
	var ms []Membership
	if err := db.Where("status = ?", StatusApplicant).Order("applied_at, id").Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	out := make([]ApplicationSummary, 0, len(ms))
	for _, m := range ms {
		approvals, err := approvalsOf(db, m.ID)
		if err != nil {
			return nil, err
		}
		var u account.User
		if err := kit.First(db, &u, m.UserID, "account"); err != nil {
			return nil, err
		}
		out = append(out, ApplicationSummary{ID: m.ID, UserID: m.UserID, Email: u.Email, Name: m.DisplayName(),
			PersonKind: m.PersonKind, Shares: m.SharesApplied, AppliedAt: m.AppliedAt,
			Approvals: approvals, ApprovalsNeeded: p.AdmissionApprovals})
	}
	return out, nil
}

// Application returns one open application with its declaration.
func (s *Memberships) Application(ctx context.Context, id string) (*ApplicationDetail, error) {
	db := s.db.Gorm.WithContext(ctx)
	m, err := loadMembership(db, id, false)
	if err != nil {
		return nil, err
	}
	if m.Status != StatusApplicant {
		return nil, models.NotFoundError("application")
	}
	p, err := rulebook.RulesAt(db, s.now())
	if err != nil {
		return nil, err
	}
	approvals, err := approvalsOf(db, m.ID)
	if err != nil {
		return nil, err
	}
	var u account.User
	if err := kit.First(db, &u, m.UserID, "account"); err != nil {
		return nil, err
	}
	return &ApplicationDetail{Membership: *m, Email: u.Email, Approvals: approvals, ApprovalsNeeded: p.AdmissionApprovals}, nil
}

func approvalsOf(tx *gorm.DB, membershipID string) ([]Approval, error) {
	var out []Approval
	err := tx.Table("membership_approvals AS a").
		Select("a.membership_id, a.board_user_id, a.approved_at, u.name AS board_name").
		Joins("JOIN users u ON u.id = a.board_user_id").
		Where("a.membership_id = ?", membershipID).Order("a.approved_at, a.board_user_id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("load approvals of %s: %w", membershipID, err)
	}
	return out, nil
}

// Approve records a board member's approval of an application and admits
// the applicant once enough board members approved. The membership row is
// locked for the whole transaction, so concurrent approvals queue up and an
// applicant is admitted exactly once.
func (s *Memberships) Approve(ctx context.Context, actor models.Actor, membershipID string) (*Membership, error) {
	var m *Membership
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if m, err = openApplicationTx(tx, actor, membershipID, "approve"); err != nil {
			return err
		}
		var mine int64
		if err := tx.Model(&Approval{}).Where("membership_id = ? AND board_user_id = ?", m.ID, actor.UserID).Count(&mine).Error; err != nil {
			return fmt.Errorf("check approval: %w", err)
		}
		if mine > 0 {
			return models.Conflict("You have already approved this application; another board member needs to confirm it.")
		}
		if err := tx.Create(&Approval{MembershipID: m.ID, BoardUserID: actor.UserID, ApprovedAt: s.now()}).Error; err != nil {
			return fmt.Errorf("record approval: %w", err)
		}
		if err := kit.RecordAudit(tx, actor, "membership.approve", "membership", m.ID, nil); err != nil {
			return err
		}
		p, err := rulebook.RulesAt(tx, s.now())
		if err != nil {
			return err
		}
		var approvals int64
		if err := tx.Model(&Approval{}).Where("membership_id = ?", m.ID).Count(&approvals).Error; err != nil {
			return fmt.Errorf("count approvals: %w", err)
		}
		if int(approvals) < p.AdmissionApprovals {
			return nil
		}
		return s.admitTx(ctx, tx, actor, m, p)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// admitTx makes an applicant a member: the next member number, admission
// today, the member role, the booking of the applied shares and the welcome
// mail, all in the caller's transaction.
func (s *Memberships) admitTx(ctx context.Context, tx *gorm.DB, actor models.Actor, m *Membership, p rulebook.RuleParams) error {
	// The counter row is incremented in this transaction: concurrent
	// admissions wait on its row lock, and a rollback returns the number,
	// so numbers stay gapless and unique.
	var number int64
	if err := tx.Raw("UPDATE counters SET value = value + 1 WHERE name = 'member_number' RETURNING value").Scan(&number).Error; err != nil {
		return fmt.Errorf("next member number: %w", err)
	}
	if number == 0 {
		return fmt.Errorf("next member number: counter row missing")
	}
	today := s.today()
	res := tx.Model(&Membership{}).Where("id = ? AND status = ?", m.ID, StatusApplicant).
		Updates(map[string]any{"status": StatusMember, "member_number": number, "admitted_on": today, "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("admit %s: %w", m.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return models.Conflict("This application has already been decided.")
	}
	m.Status, m.MemberNumber, m.AdmittedOn = StatusMember, &number, &today
	if err := account.GrantRoleTx(tx, actor, m.UserID, account.RoleMember); err != nil {
		return err
	}
	if _, err := s.bookShares(tx, actor, m.ID, ShareSubscription, m.SharesApplied, today, nil, models.Msgf("admission")); err != nil {
		return err
	}
	if err := s.addEvent(tx, m.ID, EventAdmitted, today, models.Msgf("admitted as member %d with %d shares", number, m.SharesApplied)); err != nil {
		return err
	}
	if err := kit.RecordAudit(tx, actor, "membership.admit", "membership", m.ID,
		map[string]any{"member_number": number, "shares": m.SharesApplied}); err != nil {
		return err
	}
	return account.NotifyAndMail(ctx, s.queue, tx, m.UserID, account.KindMembership, "/membership",
		models.Msgf("Welcome: the board has admitted you as a member; your member number is %d.", number),
		func(ctx context.Context, r account.Recipient) jobargs.SendMail { return mailAdmitted(ctx, r, m, p) })
}

// Reject turns an application down. The applicant is told why, and then the
// application's personal data is deleted at once; only the anonymous fact
// that a rejection happened remains.
func (s *Memberships) Reject(ctx context.Context, actor models.Actor, membershipID, reason string) error {
	reason = strings.TrimSpace(reason)
	fields := map[string]string{}
	kit.TextBlock(fields, "reason", reason, "Give the applicant the reason for the rejection.", 2000)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		m, err := openApplicationTx(tx, actor, membershipID, "reject")
		if err != nil {
			return err
		}
		rej := Rejection{ID: kit.NewID(), RejectedAt: s.now()}
		// The mail first: it needs the address, which is gone afterwards.
		if err := account.NotifyAndMail(ctx, s.queue, tx, m.UserID, account.KindMembership, "/membership",
			models.Msgf("The board has decided not to admit you as a member. The reason it gave: %s", reason),
			func(ctx context.Context, r account.Recipient) jobargs.SendMail {
				return mailRejected(ctx, r, rej.ID, reason)
			}); err != nil {
			return err
		}
		// Approvals, events and notices go with the row (ON DELETE CASCADE);
		// an applicant has no ledger rows yet.
		if err := tx.Delete(&Membership{}, "id = ?", m.ID).Error; err != nil {
			return fmt.Errorf("delete application %s: %w", m.ID, err)
		}
		if err := tx.Create(&rej).Error; err != nil {
			return fmt.Errorf("record rejection: %w", err)
		}
		return kit.RecordAudit(tx, actor, "membership.reject", "rejection", rej.ID, nil)
	})
}

// openApplicationTx locks an application the board acts on and checks
// that it is still open and that actor is a board member other than the
// applicant; verb names the action in the messages.
func openApplicationTx(tx *gorm.DB, actor models.Actor, membershipID, verb string) (*Membership, error) {
	m, err := loadMembership(tx, membershipID, true)
	if err != nil {
		return nil, err
	}
	if m.Status != StatusApplicant {
		return nil, models.Conflict("This application has already been decided.")
	}
	if actor.UserID == m.UserID {
		return nil, models.Forbidden("You cannot " + verb + " your own application.")
	}
	if ok, err := account.UserHasRole(tx, actor.UserID, account.RoleBoard); err != nil {
		return nil, err
	} else if !ok {
		return nil, models.Forbidden("Only board members can " + verb + " applications.")
	}
	return m, nil
}
