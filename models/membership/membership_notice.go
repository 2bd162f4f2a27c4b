package membership

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
)

// Notice is a member's notice of termination, on some shares or (Shares 0)
// on the whole membership.
type Notice struct {
	ID           string     `json:"id"`
	MembershipID string     `json:"membership_id"`
	Shares       int        `json:"shares"` // 0: the whole membership
	GivenOn      time.Time  `json:"given_on"`
	EffectiveOn  time.Time  `json:"effective_on"`
	WithdrawnAt  *time.Time `json:"withdrawn_at,omitempty"`
	ProcessedAt  *time.Time `json:"processed_at,omitempty"` // took effect (or was closed by an exclusion)
	CreatedAt    time.Time  `json:"created_at"`
}

// Whole reports whether the notice ends the membership.
func (n *Notice) Whole() bool { return n.Shares == 0 }

// Status is "open", "withdrawn" or "effective".
func (n *Notice) Status() string {
	switch {
	case n.WithdrawnAt != nil:
		return "withdrawn"
	case n.ProcessedAt != nil:
		return "effective"
	}
	return "open"
}

// openNoticedShares counts shares under open partial notices.
func openNoticedShares(tx *gorm.DB, membershipID string) (int, error) {
	var n int64
	err := tx.Raw(`SELECT CAST(COALESCE(SUM(shares), 0) AS BIGINT) FROM notices
		WHERE membership_id = ? AND withdrawn_at IS NULL AND processed_at IS NULL`, membershipID).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("shares under notice of %s: %w", membershipID, err)
	}
	return int(n), nil
}

// GiveNotice gives notice on shares of userID's membership, or on the whole
// membership when shares is 0. It takes effect at the end of a business year
// (NoticeEffectiveDate).
func (s *Memberships) GiveNotice(ctx context.Context, actor models.Actor, userID string, shares int) (*Notice, error) {
	if shares < 0 {
		return nil, models.Invalid(map[string]string{"shares": "Enter a number of shares, or 0 for the whole membership."})
	}
	var n *Notice
	err := s.tx(ctx, func(tx *gorm.DB) error {
		m, err := latestMembership(tx, userID, true)
		if err != nil {
			return err
		}
		switch m.Status {
		case StatusMember:
		case StatusLeaving:
			return models.Conflict("You have already given notice on your whole membership.")
		default:
			return models.Conflict("Only members can give notice.")
		}
		today := s.today()
		p, err := rulebook.RulesAt(tx, s.now())
		if err != nil {
			return err
		}
		if shares > 0 {
			if err := checkPartialNotice(tx, m.ID, shares, p); err != nil {
				return err
			}
		}
		n = &Notice{ID: kit.NewID(), MembershipID: m.ID, Shares: shares, GivenOn: today,
			EffectiveOn: NoticeEffectiveDate(today, p), CreatedAt: s.now()}
		if err := tx.Create(n).Error; err != nil {
			return fmt.Errorf("insert notice: %w", err)
		}
		what := "the whole membership"
		if shares > 0 {
			what = fmt.Sprintf("%d shares", shares)
		} else if err := s.setStatus(tx, m.ID, StatusMember, StatusLeaving); err != nil {
			return err
		}
		if err := s.addEvent(tx, m.ID, EventNoticeGiven, today, fmt.Sprintf("notice on %s, effective %s", what, kit.FormatDate(n.EffectiveOn))); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.notice", "membership", m.ID,
			map[string]any{"notice_id": n.ID, "shares": shares, "effective_on": kit.FormatDate(n.EffectiveOn)}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(to, name string) jobargs.SendMail { return mailNoticeConfirmed(to, name, n) })
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// checkPartialNotice: a member can give notice only on shares they hold and
// have not already given notice on, and must keep the minimum (§67b GenG).
func checkPartialNotice(tx *gorm.DB, membershipID string, shares int, p rulebook.RuleParams) error {
	held, err := shareBalance(tx, membershipID)
	if err != nil {
		return err
	}
	noticed, err := openNoticedShares(tx, membershipID)
	if err != nil {
		return err
	}
	free := held - noticed
	if shares > free {
		return models.Invalid(map[string]string{"shares": fmt.Sprintf("You hold %d shares not already under notice; you cannot give notice on %d.", free, shares)})
	}
	if free-shares < p.MinShares {
		return models.Invalid(map[string]string{"shares": fmt.Sprintf("A member keeps at least %d share(s); give notice on the whole membership instead.", p.MinShares)})
	}
	return nil
}

func (s *Memberships) setStatus(tx *gorm.DB, membershipID string, from, to MembershipStatus) error {
	res := tx.Model(&Membership{}).Where("id = ? AND status = ?", membershipID, from).
		Updates(map[string]any{"status": to, "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("set status of %s to %s: %w", membershipID, to, res.Error)
	}
	if res.RowsAffected != 1 {
		return models.Conflict("The membership changed meanwhile; please reload.")
	}
	return nil
}

// WithdrawNotice withdraws an open notice before it takes effect.
func (s *Memberships) WithdrawNotice(ctx context.Context, actor models.Actor, userID, noticeID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var n Notice
		if err := kit.First(tx, &n, noticeID, "notice"); err != nil {
			return err
		}
		m, err := loadMembership(tx, n.MembershipID, true)
		if err != nil {
			return err
		}
		if m.UserID != userID {
			return models.NotFoundError("notice")
		}
		if n.Status() != "open" || s.today().After(n.EffectiveOn) {
			return models.Conflict("This notice can no longer be withdrawn.")
		}
		now := s.now()
		res := tx.Model(&Notice{}).Where("id = ? AND withdrawn_at IS NULL AND processed_at IS NULL", n.ID).Update("withdrawn_at", now)
		if res.Error != nil {
			return fmt.Errorf("withdraw notice %s: %w", n.ID, res.Error)
		}
		if res.RowsAffected != 1 {
			return models.Conflict("This notice can no longer be withdrawn.")
		}
		if n.Whole() {
			if err := s.setStatus(tx, m.ID, StatusLeaving, StatusMember); err != nil {
				return err
			}
		}
		if err := s.addEvent(tx, m.ID, EventNoticeWithdrawn, s.today(), "notice of "+kit.FormatDate(n.GivenOn)+" withdrawn"); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.notice_withdraw", "membership", m.ID, map[string]any{"notice_id": n.ID}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(to, name string) jobargs.SendMail { return mailNoticeWithdrawn(to, name, &n) })
	})
}

// ProcessDueNotices lets notices take effect whose date has come; a daily
// periodic job runs it. Each notice is handled in its own transaction and
// claimed by a conditional update, so running twice, or on two portal
// instances at once, does nothing more.
func (s *Memberships) ProcessDueNotices(ctx context.Context) (int, error) {
	var due []Notice
	err := s.db.Gorm.WithContext(ctx).
		Where("effective_on <= ? AND withdrawn_at IS NULL AND processed_at IS NULL", s.today()).
		Order("effective_on, id").Find(&due).Error
	if err != nil {
		return 0, fmt.Errorf("find due notices: %w", err)
	}
	done := 0
	for _, n := range due {
		processed := false
		err := s.tx(ctx, func(tx *gorm.DB) error {
			var err error
			processed, err = s.processNoticeTx(ctx, tx, n)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("process notice %s: %w", n.ID, err)
		}
		if processed {
			done++
		}
	}
	return done, nil
}

func (s *Memberships) processNoticeTx(ctx context.Context, tx *gorm.DB, n Notice) (bool, error) {
	actor := models.SystemActor("notices")
	m, err := loadMembership(tx, n.MembershipID, true)
	if err != nil {
		return false, err
	}
	res := tx.Model(&Notice{}).Where("id = ? AND withdrawn_at IS NULL AND processed_at IS NULL", n.ID).Update("processed_at", s.now())
	if res.Error != nil {
		return false, fmt.Errorf("claim notice: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return false, nil // another run was first
	}
	if m.Status != StatusMember && m.Status != StatusLeaving {
		return true, nil // the membership ended otherwise meanwhile
	}
	p, err := rulebook.RulesAt(tx, n.EffectiveOn)
	if err != nil {
		return false, err
	}
	if n.Whole() {
		refund, due, err := s.endMembershipTx(tx, actor, m, StatusFormer, n.EffectiveOn, "notice")
		if err != nil {
			return false, err
		}
		if err := s.addEvent(tx, m.ID, EventLeft, n.EffectiveOn, "left by notice"); err != nil {
			return false, err
		}
		if err := kit.RecordAudit(tx, actor, "membership.end", "membership", m.ID,
			map[string]any{"notice_id": n.ID, "left_on": kit.FormatDate(n.EffectiveOn), "refund_cents": refund}); err != nil {
			return false, err
		}
		return true, s.mailUser(ctx, tx, m.UserID, func(to, name string) jobargs.SendMail {
			return mailMembershipEnded(to, name, m, refund, due)
		})
	}

	// A partial notice: cancel the shares, and owe back the capital the
	// remaining shares no longer need.
	held, err := shareBalance(tx, m.ID)
	if err != nil {
		return false, err
	}
	cancel := min(n.Shares, held)
	if _, err := s.bookShares(tx, actor, m.ID, ShareCancellation, -cancel, n.EffectiveOn, nil, "notice "+n.ID); err != nil {
		return false, err
	}
	refund, err := refundableCapital(tx, m.ID, held-cancel, p.SharePriceCents)
	if err != nil {
		return false, err
	}
	due := kit.AddMonths(n.EffectiveOn, refundDelay)
	if refund > 0 {
		if err := s.recordRefund(tx, m.ID, refund, due, "notice on shares"); err != nil {
			return false, err
		}
	}
	if err := s.addEvent(tx, m.ID, EventSharesCancelled, n.EffectiveOn, fmt.Sprintf("%d shares cancelled by notice", cancel)); err != nil {
		return false, err
	}
	if err := kit.RecordAudit(tx, actor, "membership.shares_cancel", "membership", m.ID,
		map[string]any{"notice_id": n.ID, "shares": cancel, "refund_cents": refund}); err != nil {
		return false, err
	}
	return true, s.mailUser(ctx, tx, m.UserID, func(to, name string) jobargs.SendMail {
		return mailSharesCancelled(to, name, &n, refund, due)
	})
}
