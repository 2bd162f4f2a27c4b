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
	// Withdrawal is a request the board decides (§65 GenG: a notice given
	// binds the member; the cooperative may agree to its withdrawal).
	WithdrawalRequestedAt *time.Time `json:"withdrawal_requested_at,omitempty"`
	WithdrawalRefusedAt   *time.Time `json:"withdrawal_refused_at,omitempty"`
	WithdrawalDecidedBy   string     `json:"-"` // in English: the record
	// WithdrawalDecidedByMsg is WithdrawalDecidedBy's format and arguments
	// when the portal closed the notice (superseded by a later one), the
	// board member's id as written (models.Verbatim) when the board
	// decided; zero on rows from before it was kept.
	WithdrawalDecidedByMsg models.Msg `json:"-"`
	// EarlyReason: an early notice under §65(3) GenG and why the member
	// cannot be expected to stay; empty for an ordinary notice.
	EarlyReason string `json:"early_reason,omitempty"`
	// Kind: NoticeOrdinary, NoticeEarly (§65(3)) or NoticeExtraordinary67a;
	// the last names the resolution (agenda item) it rests on and records
	// that the change of the bylaws does not bind the member (notice_67a.go).
	Kind             string `json:"kind"`
	ResolutionRef    string `json:"resolution_ref,omitempty"`
	BylawsNotBinding string `json:"bylaws_not_binding,omitempty"` // in English: the record
	// BylawsNotBindingMsg is BylawsNotBinding's format and arguments, for
	// the pages to show it in the reader's language; zero on rows from
	// before it was kept.
	BylawsNotBindingMsg models.Msg `json:"-"`
}

// Notice kinds.
const (
	NoticeOrdinary         = "ordinary"
	NoticeEarly            = "early_65_3"
	NoticeExtraordinary67a = "extraordinary_67a"
)

// WithdrawalPending reports whether the member asked to withdraw the
// notice and the board has not decided yet.
func (n *Notice) WithdrawalPending() bool {
	return n.Status() == "open" && n.WithdrawalRequestedAt != nil
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

// withdrawal is the update that withdraws a notice: when, and who decided
// it (by), kept in English and as its message.
func withdrawal(at time.Time, by models.Msg) map[string]any {
	return map[string]any{"withdrawn_at": at, "withdrawal_decided_by": by.String(), "withdrawal_decided_by_msg": by}
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
	return s.giveNotice(ctx, actor, userID, shares, "")
}

// GiveEarlyNotice is the extraordinary notice of §65(3) GenG: where the
// bylaws' notice period is longer than two years, a member who has belonged
// to the cooperative for at least one full business year and cannot be
// expected to stay until the period ends — reason says why — may leave
// with a period of one year, at the end of a business year.
func (s *Memberships) GiveEarlyNotice(ctx context.Context, actor models.Actor, userID, reason string) (*Notice, error) {
	reason = strings.TrimSpace(reason)
	fields := map[string]string{}
	kit.TextBlock(fields, "reason", reason, "Say why you cannot be expected to stay until the ordinary notice period ends.", 5000)
	if len(fields) > 0 {
		return nil, models.Invalid(fields)
	}
	return s.giveNotice(ctx, actor, userID, 0, reason)
}

// EarlyNoticeOpen reports whether the member may give early notice now
// (§65(3) GenG), and the first day they may if not yet.
func EarlyNoticeOpen(m *Membership, today time.Time, p rulebook.RuleParams) (bool, time.Time) {
	if p.NoticePeriodMonths <= 24 || m.AdmittedOn == nil {
		return false, time.Time{}
	}
	// The first full business year starts on the admission day if that
	// begins a business year, else with the next one.
	start := kit.DateOf(*m.AdmittedOn)
	if !BusinessYearEnd(start.AddDate(0, 0, -1), p).Equal(start.AddDate(0, 0, -1)) {
		start = BusinessYearEnd(start, p).AddDate(0, 0, 1)
	}
	from := BusinessYearEnd(start, p).AddDate(0, 0, 1)
	return !kit.DateOf(today).Before(from), from
}

func (s *Memberships) giveNotice(ctx context.Context, actor models.Actor, userID string, shares int, early string) (*Notice, error) {
	var n *Notice
	err := s.tx(ctx, func(tx *gorm.DB) error {
		m, err := latestMembership(tx, userID, true)
		if err != nil {
			return err
		}
		switch m.Status {
		case StatusMember:
		case StatusLeaving:
			if early == "" {
				return models.Conflict("You have already given notice on your whole membership.")
			}
		default:
			return models.Conflict("Only members can give notice.")
		}
		today := s.today()
		p, err := rulebook.RulesAt(tx, s.now())
		if err != nil {
			return err
		}
		effective := NoticeEffectiveDate(today, p)
		if early != "" {
			ok, from := EarlyNoticeOpen(m, today, p)
			switch {
			case p.NoticePeriodMonths <= 24:
				return models.Conflictf("The notice period is %d months; early notice exists only where it is longer than two years (§65(3) GenG).", p.NoticePeriodMonths)
			case !ok:
				return models.Conflictf("Early notice is open to members of at least one full business year: from %s.", kit.DateOf(from))
			}
			yearly := p
			yearly.NoticePeriodMonths = 12
			effective = NoticeEffectiveDate(today, yearly)
			if m.Status == StatusLeaving {
				// An ordinary notice is open: the early one must end sooner.
				var whole Notice
				if err := tx.Where("membership_id = ? AND shares = 0 AND withdrawn_at IS NULL AND processed_at IS NULL", m.ID).First(&whole).Error; err == nil && !effective.Before(whole.EffectiveOn) {
					return models.Conflictf("Your notice already takes effect on %s; an early notice would not end the membership sooner.", kit.DateOf(whole.EffectiveOn))
				}
			}
		}
		if shares > 0 {
			if err := s.checkPartialNotice(tx, m, shares, p); err != nil {
				return err
			}
		}
		n = &Notice{ID: kit.NewID(), MembershipID: m.ID, Shares: shares, GivenOn: today,
			EffectiveOn: effective, CreatedAt: s.now(), EarlyReason: early, Kind: NoticeOrdinary}
		if early != "" {
			n.Kind = NoticeEarly
		}
		if err := tx.Create(n).Error; err != nil {
			return fmt.Errorf("insert notice: %w", err)
		}
		detail := models.Msgf("notice on the whole membership, effective %s", kit.DateOf(n.EffectiveOn))
		switch {
		case shares > 0 && early != "":
			detail = models.Msgf("notice on %d shares (early, §65(3) GenG), effective %s", shares, kit.DateOf(n.EffectiveOn))
		case shares > 0:
			detail = models.Msgf("notice on %d shares, effective %s", shares, kit.DateOf(n.EffectiveOn))
		case early != "":
			detail = models.Msgf("notice on the whole membership (early, §65(3) GenG), effective %s", kit.DateOf(n.EffectiveOn))
		}
		switch {
		case shares > 0: // a partial notice leaves the status as it is
		case m.Status == StatusMember:
			if err := s.setStatus(tx, m.ID, StatusMember, StatusLeaving); err != nil {
				return err
			}
		default:
			if err := tx.Model(&Notice{}).Where("membership_id = ? AND shares = 0 AND id <> ? AND withdrawn_at IS NULL AND processed_at IS NULL", m.ID, n.ID).
				Updates(withdrawal(s.now(), models.Msgf("superseded by early notice %s", n.ID))).Error; err != nil {
				return fmt.Errorf("close the ordinary notice: %w", err) // the early notice ends the membership sooner
			}
		}
		if err := s.addEvent(tx, m.ID, EventNoticeGiven, today, detail); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.notice", "membership", m.ID,
			map[string]any{"notice_id": n.ID, "shares": shares, "effective_on": kit.FormatDate(n.EffectiveOn), "early": early != ""}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail { return mailNoticeConfirmed(ctx, r, n) })
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// checkPartialNotice: a member can give notice only on shares they hold and
// have not already given notice on, must keep the holding the bylaws
// oblige (§67b GenG), and may not leave their VMs without the entitlement
// the remaining paid shares give: they shrink or delete VMs first.
func (s *Memberships) checkPartialNotice(tx *gorm.DB, m *Membership, shares int, p rulebook.RuleParams) error {
	held, err := shareBalance(tx, m.ID)
	if err != nil {
		return err
	}
	noticed, err := openNoticedShares(tx, m.ID)
	if err != nil {
		return err
	}
	free := held - noticed
	if shares > free {
		return models.Invalidf("shares", "You hold %d shares not already under notice; you cannot give notice on %d.", free, shares)
	}
	if free-shares < p.Compulsory() {
		return models.Invalidf("shares", "A member keeps at least %d share(s); give notice on the whole membership instead.", p.Compulsory())
	}
	if s.usage == nil {
		return nil
	}
	used, err := s.usage(tx, m.UserID)
	if err != nil {
		return err
	}
	paid, err := capitalBalance(tx, m.ID)
	if err != nil {
		return err
	}
	left := p.EntitlementPerShare.Times(paidShares(free-shares, paid, p.SharePriceCents))
	if used.VCPUs > left.VCPUs || used.MemoryMiB > left.MemoryMiB || used.DiskGiB > left.DiskGiB {
		return models.Invalidf("shares",
			"Your VMs take %d vCPUs, %d MiB memory and %d GiB disk; the shares you would keep entitle you to %d vCPUs, %d MiB and %d GiB. Shrink or delete VMs first (§67b GenG).",
			used.VCPUs, used.MemoryMiB, used.DiskGiB, left.VCPUs, left.MemoryMiB, left.DiskGiB)
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

// RequestNoticeWithdrawal asks the board to let userID withdraw an open
// notice before it takes effect.
func (s *Memberships) RequestNoticeWithdrawal(ctx context.Context, actor models.Actor, userID, noticeID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		n, m, err := loadNotice(tx, noticeID)
		if err != nil {
			return err
		}
		if m.UserID != userID {
			return models.NotFoundError("notice")
		}
		if n.Status() != "open" || s.today().After(n.EffectiveOn) {
			return models.Conflict("This notice can no longer be withdrawn.")
		}
		if n.WithdrawalPending() {
			return models.Conflict("You have already asked to withdraw this notice; the board decides on it.")
		}
		res := tx.Model(&Notice{}).Where("id = ? AND withdrawn_at IS NULL AND processed_at IS NULL", n.ID).
			Updates(map[string]any{"withdrawal_requested_at": s.now(), "withdrawal_refused_at": nil})
		if res.Error != nil {
			return fmt.Errorf("request withdrawal of notice %s: %w", n.ID, res.Error)
		}
		return kit.RecordAudit(tx, actor, "membership.notice_withdraw_request", "membership", m.ID, map[string]any{"notice_id": n.ID})
	})
}

// DecideNoticeWithdrawal lets the board accept or refuse a member's request
// to withdraw a notice. Accepted, the notice is withdrawn (and a leaving
// member is a member again).
func (s *Memberships) DecideNoticeWithdrawal(ctx context.Context, actor models.Actor, noticeID string, accept bool) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := requireBoardTx(tx, actor, "Only the board can decide on withdrawing a notice."); err != nil {
			return err
		}
		n, m, err := loadNotice(tx, noticeID)
		if err != nil {
			return err
		}
		if m.UserID == actor.UserID {
			return models.Forbidden("You cannot decide on your own notice.")
		}
		if !n.WithdrawalPending() {
			return models.Conflict("No request to withdraw this notice awaits a decision.")
		}
		if s.today().After(n.EffectiveOn) {
			return models.Conflict("This notice has taken effect; it can no longer be withdrawn.")
		}
		if !accept {
			by := models.Verbatim(recorder(actor))
			if err := tx.Model(&Notice{}).Where("id = ?", n.ID).Updates(map[string]any{"withdrawal_requested_at": nil,
				"withdrawal_refused_at": s.now(), "withdrawal_decided_by": by.String(), "withdrawal_decided_by_msg": by}).Error; err != nil {
				return fmt.Errorf("refuse withdrawal of notice %s: %w", n.ID, err)
			}
			if err := kit.RecordAudit(tx, actor, "membership.notice_withdraw_refuse", "membership", m.ID, map[string]any{"notice_id": n.ID}); err != nil {
				return err
			}
			return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
				return mailNoticeWithdrawalRefused(ctx, r, n)
			})
		}
		res := tx.Model(&Notice{}).Where("id = ? AND withdrawn_at IS NULL AND processed_at IS NULL", n.ID).
			Updates(withdrawal(s.now(), models.Verbatim(recorder(actor))))
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
		if err := s.addEvent(tx, m.ID, EventNoticeWithdrawn, s.today(), models.Msgf("notice of %s withdrawn with the board's consent", kit.DateOf(n.GivenOn))); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.notice_withdraw", "membership", m.ID, map[string]any{"notice_id": n.ID}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail { return mailNoticeWithdrawn(ctx, r, n) })
	})
}

func loadNotice(tx *gorm.DB, id string) (*Notice, *Membership, error) {
	var n Notice
	if err := kit.First(tx, &n, id, "notice"); err != nil {
		return nil, nil, err
	}
	m, err := loadMembership(tx, n.MembershipID, true)
	if err != nil {
		return nil, nil, err
	}
	return &n, m, nil
}

// PendingWithdrawal is a request to withdraw a notice, for the board.
type PendingWithdrawal struct {
	Notice
	MemberNumber int64
	Name         string
}

// PendingWithdrawals lists the requests to withdraw a notice, oldest first.
func (s *Memberships) PendingWithdrawals(ctx context.Context) ([]PendingWithdrawal, error) {
	var out []PendingWithdrawal
	err := s.db.Gorm.WithContext(ctx).Table("notices n").
		Select("n.*, m.member_number, CASE WHEN m.person_kind = ? AND m.organisation <> '' THEN m.organisation ELSE m.legal_name END AS name", PersonLegal).
		Joins("JOIN memberships m ON m.id = n.membership_id").
		Where("n.withdrawal_requested_at IS NOT NULL AND n.withdrawn_at IS NULL AND n.processed_at IS NULL").
		Order("n.withdrawal_requested_at, n.id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list withdrawal requests: %w", err)
	}
	return out, nil
}

// ProcessDueNotices lets notices take effect whose date has passed: a
// membership ends at the end of its last day, so the member keeps every
// right through that day and loses them the day after (§65 GenG). The
// hourly job runs it. Each notice is handled in its own transaction and
// claimed by a conditional update, so running twice, or on two portal
// instances at once, does nothing more.
func (s *Memberships) ProcessDueNotices(ctx context.Context) (int, error) {
	var due []Notice
	err := s.db.Gorm.WithContext(ctx).
		Where("effective_on < ? AND withdrawn_at IS NULL AND processed_at IS NULL", s.today()).
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
		refund, due, err := s.endMembershipTx(tx, actor, m, StatusFormer, n.EffectiveOn, "notice", models.Msgf("membership ended: notice"))
		if err != nil {
			return false, err
		}
		if err := s.addEvent(tx, m.ID, EventLeft, n.EffectiveOn, models.Msgf("left by notice")); err != nil {
			return false, err
		}
		if err := kit.RecordAudit(tx, actor, "membership.end", "membership", m.ID,
			map[string]any{"notice_id": n.ID, "left_on": kit.FormatDate(n.EffectiveOn), "refund_cents": refund}); err != nil {
			return false, err
		}
		return true, s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
			return mailMembershipEnded(ctx, r, m, refund, due)
		})
	}

	// A partial notice: cancel the shares, and owe back the capital the
	// remaining shares no longer need.
	held, err := shareBalance(tx, m.ID)
	if err != nil {
		return false, err
	}
	cancel := min(n.Shares, held)
	if _, err := s.bookShares(tx, actor, m.ID, ShareCancellation, -cancel, n.EffectiveOn, nil, models.Msgf("notice %s", n.ID)); err != nil {
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
	if err := s.addEvent(tx, m.ID, EventSharesCancelled, n.EffectiveOn, models.Msgf("%d shares cancelled by notice", cancel)); err != nil {
		return false, err
	}
	if err := kit.RecordAudit(tx, actor, "membership.shares_cancel", "membership", m.ID,
		map[string]any{"notice_id": n.ID, "shares": cancel, "refund_cents": refund}); err != nil {
		return false, err
	}
	return true, s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
		return mailSharesCancelled(ctx, r, &n, refund, due)
	})
}
