package membership

// Transfer of capital (§76 GenG). A member may transfer their paid-in
// capital to another member by an agreement in text form: the portal writes
// the agreement, the transferor confirms it when proposing, the receiver
// when agreeing, and the board carries it out. A full transfer (Shares 0)
// moves the whole capital and ends the transferor's membership without a
// settlement (no refund: the capital lives on with the receiver); a partial
// one moves the capital of some fully paid shares, which the transferor
// gives up. The receiver's capital may never exceed what their own shares
// are worth: they subscribe further shares first.

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"allmende/i18n"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
)

// Where a transfer stands.
const (
	TransferProposed  = "proposed" // the transferor agreed, the receiver not yet
	TransferAgreed    = "agreed"   // both agreed: the board carries it out
	TransferExecuted  = "executed"
	TransferRefused   = "refused" // by the board or the receiver
	TransferWithdrawn = "withdrawn"
)

// CapitalTransfer is an agreement under §76 GenG.
type CapitalTransfer struct {
	ID                 string     `json:"id"`
	FromMembershipID   string     `json:"from_membership_id"`
	ToMembershipID     string     `json:"to_membership_id"`
	Shares             int        `json:"shares"` // 0: the whole capital
	AmountCents        int64      `json:"amount_cents"`
	Agreement          string     `json:"agreement"`
	TransferorAgreedAt time.Time  `json:"transferor_agreed_at"`
	ReceiverAgreedAt   *time.Time `json:"receiver_agreed_at,omitempty"`
	Status             string     `json:"status"`
	DecidedBy          string     `json:"-"`
	DecidedAt          *time.Time `json:"decided_at,omitempty"`
	TransferID         *string    `json:"transfer_id,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
}

// Whole reports whether the transfer moves the whole capital.
func (t *CapitalTransfer) Whole() bool { return t.Shares == 0 }

// TransferInput proposes a transfer.
type TransferInput struct {
	ToMemberNumber int64
	Shares         int // 0: the whole capital, leaving the cooperative
	Confirm        bool
}

// transferPlan is a checked transfer: who, what and the agreement's text.
type transferPlan struct {
	from, to *Membership
	amount   int64
	text     string
}

func (s *Memberships) planTransfer(ctx context.Context, tx *gorm.DB, userID string, in TransferInput, p rulebook.RuleParams, lock bool) (*transferPlan, error) {
	fields := map[string]string{}
	if in.ToMemberNumber <= 0 {
		fields["to"] = "Enter the member number of the member who receives the capital."
	}
	if in.Shares < 0 {
		fields["shares"] = "Enter a number of shares, or 0 to transfer the whole capital."
	}
	if len(fields) > 0 {
		return nil, models.Invalid(fields)
	}
	from, err := latestMembership(tx, userID, lock)
	if err != nil {
		return nil, err
	}
	if from.Status != StatusMember && from.Status != StatusLeaving {
		return nil, models.Conflict("Only members can transfer their capital.")
	}
	var to Membership
	if err := tx.Where("member_number = ? AND status IN ?", in.ToMemberNumber, []MembershipStatus{StatusMember, StatusLeaving}).Limit(1).Find(&to).Error; err != nil {
		return nil, fmt.Errorf("find receiver: %w", err)
	}
	if to.ID == "" {
		return nil, models.Invalid(map[string]string{"to": "No member in good standing has this member number."})
	}
	if to.ID == from.ID {
		return nil, models.Invalid(map[string]string{"to": "Choose another member."})
	}
	capital, err := capitalBalance(tx, from.ID)
	if err != nil {
		return nil, err
	}
	held, err := shareBalance(tx, from.ID)
	if err != nil {
		return nil, err
	}
	amount := capital
	if in.Shares > 0 {
		noticed, err := openNoticedShares(tx, from.ID)
		if err != nil {
			return nil, err
		}
		switch {
		case in.Shares > held-noticed:
			return nil, models.Invalidf("shares", "You hold %d shares not under notice.", held-noticed)
		case held-in.Shares < p.Compulsory():
			return nil, models.Invalidf("shares", "A member keeps at least %d share(s); transfer the whole capital instead.", p.Compulsory())
		case paidShares(held, capital, p.SharePriceCents) < in.Shares:
			return nil, models.Invalid(map[string]string{"shares": "Only fully paid shares can be transferred."})
		}
		amount = int64(in.Shares) * p.SharePriceCents
	}
	if amount <= 0 {
		return nil, models.Conflict("You have no paid-in capital to transfer.")
	}
	// The agreement is written in the language of the member who proposes
	// it (ctx carries it) and kept as written: both sides agree to this text.
	what := i18n.T(ctx, "my whole paid-in capital of %s, and with it I leave the cooperative without a settlement", i18n.Money(ctx, amount))
	if in.Shares > 0 {
		what = i18n.T(ctx, "the paid-in capital of %s, %s, and give up these shares", i18n.N(ctx, "%d share", "%d shares", in.Shares), i18n.Money(ctx, amount))
	}
	text := i18n.T(ctx, "Agreement under §76 GenG: %s (member number %d) transfers to %s (member number %d) %s. "+
		"%s takes it on towards their own shares. The transfer takes effect when the board carries it out.",
		from.DisplayName(), *from.MemberNumber, to.DisplayName(), *to.MemberNumber, what, to.DisplayName())
	return &transferPlan{from: from, to: &to, amount: amount, text: text}, nil
}

// PreviewTransfer checks a transfer as ProposeTransfer would and returns the
// agreement the member is asked to confirm.
func (s *Memberships) PreviewTransfer(ctx context.Context, userID string, in TransferInput) (string, error) {
	db := s.db.Gorm.WithContext(ctx)
	p, err := rulebook.RulesAt(db, s.now())
	if err != nil {
		return "", err
	}
	plan, err := s.planTransfer(ctx, db, userID, in, p, false)
	if err != nil {
		return "", err
	}
	return plan.text, nil
}

// ProposeTransfer records the transferor's side of the agreement; the
// receiver agrees next (AgreeTransfer).
func (s *Memberships) ProposeTransfer(ctx context.Context, actor models.Actor, userID string, in TransferInput) (*CapitalTransfer, error) {
	if !in.Confirm {
		return nil, models.Invalid(map[string]string{"confirm": "Confirm the agreement to propose the transfer."})
	}
	var t *CapitalTransfer
	err := s.tx(ctx, func(tx *gorm.DB) error {
		p, err := rulebook.RulesAt(tx, s.now())
		if err != nil {
			return err
		}
		plan, err := s.planTransfer(ctx, tx, userID, in, p, true)
		if err != nil {
			return err
		}
		t = &CapitalTransfer{ID: kit.NewID(), FromMembershipID: plan.from.ID, ToMembershipID: plan.to.ID, Shares: in.Shares,
			AmountCents: plan.amount, Agreement: plan.text, TransferorAgreedAt: s.now(), Status: TransferProposed, CreatedAt: s.now()}
		if err := tx.Create(t).Error; err != nil {
			return fmt.Errorf("record transfer: %w", err)
		}
		if err := kit.RecordAudit(tx, actor, "membership.transfer_propose", "membership", plan.from.ID,
			map[string]any{"transfer": t.ID, "to": plan.to.ID, "shares": in.Shares, "amount_cents": plan.amount}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, plan.to.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
			return mailTransferProposed(ctx, r, t)
		})
	})
	return t, err
}

// AgreeTransfer is the receiver's confirmation of the agreement (agree) or
// their refusal.
func (s *Memberships) AgreeTransfer(ctx context.Context, actor models.Actor, userID, transferID string, agree bool) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var t CapitalTransfer
		if err := kit.First(tx, &t, transferID, "transfer"); err != nil {
			return err
		}
		to, err := loadMembership(tx, t.ToMembershipID, true)
		if err != nil {
			return err
		}
		if to.UserID != userID {
			return models.NotFoundError("transfer")
		}
		status := TransferAgreed
		if !agree {
			status = TransferRefused
		}
		upd := map[string]any{"status": status}
		if agree {
			upd["receiver_agreed_at"] = s.now()
		} else {
			upd["decided_at"], upd["decided_by"] = s.now(), recorder(actor)
		}
		res := tx.Model(&CapitalTransfer{}).Where("id = ? AND status = ?", t.ID, TransferProposed).Updates(upd)
		if res.Error != nil {
			return fmt.Errorf("agree to transfer %s: %w", t.ID, res.Error)
		}
		if res.RowsAffected != 1 {
			return models.Conflict("This transfer is no longer open to your agreement.")
		}
		return kit.RecordAudit(tx, actor, "membership.transfer_agree", "membership", to.ID, map[string]any{"transfer": t.ID, "agree": agree})
	})
}

// ExecuteTransfer carries out an agreed transfer (the board). The capital
// moves in the ledger; a partial transfer cancels the shares given up, a
// full one ends the transferor's membership without a refund.
func (s *Memberships) ExecuteTransfer(ctx context.Context, actor models.Actor, transferID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := requireBoardTx(tx, actor, "Only the board can carry out a transfer."); err != nil {
			return err
		}
		var t CapitalTransfer
		if err := kit.First(tx, &t, transferID, "transfer"); err != nil {
			return err
		}
		ms, err := lockMemberships(tx, t.FromMembershipID, t.ToMembershipID)
		if err != nil {
			return err
		}
		from, to := ms[t.FromMembershipID], ms[t.ToMembershipID]
		if actor.UserID == from.UserID || actor.UserID == to.UserID {
			return models.Forbidden("You cannot carry out a transfer you are party to.")
		}
		if t.Status != TransferAgreed {
			return models.Conflict("Only a transfer both members agreed to can be carried out.")
		}
		p, err := rulebook.RulesAt(tx, s.now())
		if err != nil {
			return err
		}
		// The agreement still holds against today's books.
		plan, err := s.planTransfer(ctx, tx, from.UserID, TransferInput{ToMemberNumber: *to.MemberNumber, Shares: t.Shares}, p, false)
		if err != nil {
			return models.Conflictf("The transfer no longer fits the books: %s", errSafe(err))
		}
		if plan.amount != t.AmountCents {
			return models.Conflictf("The capital to transfer changed since the agreement (%s, not %s); the members must agree again.", models.Cents(plan.amount), models.Cents(t.AmountCents))
		}
		toShares, err := shareBalance(tx, to.ID)
		if err != nil {
			return err
		}
		toCapital, err := capitalBalance(tx, to.ID)
		if err != nil {
			return err
		}
		if limit := int64(toShares) * p.SharePriceCents; toCapital+t.AmountCents > limit {
			need := (toCapital + t.AmountCents - limit + p.SharePriceCents - 1) / p.SharePriceCents
			return models.Conflictf("The receiver's capital would exceed their shares (%s for %d shares); they must subscribe %d further share(s) first.",
				models.Cents(limit), toShares, need)
		}
		today := s.today()
		transferID := kit.NewID()
		note := models.Msgf("§76 GenG transfer %s", t.ID)
		if _, err := s.bookCapital(tx, actor, CapitalTransaction{MembershipID: from.ID, Kind: CapitalTransferOut, AmountCents: -t.AmountCents,
			EffectiveDate: today, CounterpartMembershipID: &to.ID, TransferID: &transferID, NoteMsg: note}); err != nil {
			return err
		}
		if _, err := s.bookCapital(tx, actor, CapitalTransaction{MembershipID: to.ID, Kind: CapitalTransferIn, AmountCents: t.AmountCents,
			EffectiveDate: today, CounterpartMembershipID: &from.ID, TransferID: &transferID, NoteMsg: note}); err != nil {
			return err
		}
		res := tx.Model(&CapitalTransfer{}).Where("id = ? AND status = ?", t.ID, TransferAgreed).
			Updates(map[string]any{"status": TransferExecuted, "decided_by": recorder(actor), "decided_at": s.now(), "transfer_id": transferID})
		if res.Error != nil || res.RowsAffected != 1 {
			return fmt.Errorf("mark transfer %s executed: %v", t.ID, res.Error)
		}
		if t.Whole() {
			// Without settlement: the capital moved, nothing is owed back.
			if _, _, err := s.endMembershipTx(tx, actor, from, StatusFormer, today, "transfer", models.Msgf("membership ended: transfer")); err != nil {
				return err
			}
			if err := tx.Model(&Notice{}).Where("membership_id = ? AND withdrawn_at IS NULL AND processed_at IS NULL", from.ID).
				Update("processed_at", s.now()).Error; err != nil {
				return fmt.Errorf("close notices of %s: %w", from.ID, err)
			}
			if err := s.addEvent(tx, from.ID, EventLeft, today, models.Msgf("left by transferring the whole capital of %s to member %d (§76 GenG)", models.Cents(t.AmountCents), *to.MemberNumber)); err != nil {
				return err
			}
		} else {
			if _, err := s.bookShares(tx, actor, from.ID, ShareCancellation, -t.Shares, today, nil, models.Msgf("§76 GenG transfer %s", t.ID)); err != nil {
				return err
			}
			if err := s.addEvent(tx, from.ID, EventSharesCancelled, today, models.Msgf("%d shares given up by transferring their capital of %s to member %d (§76 GenG)", t.Shares, models.Cents(t.AmountCents), *to.MemberNumber)); err != nil {
				return err
			}
		}
		if err := s.addEvent(tx, to.ID, EventCapitalTransferred, today, models.Msgf("took on capital of %s from member %d (§76 GenG)", models.Cents(t.AmountCents), *from.MemberNumber)); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.transfer_execute", "membership", from.ID,
			map[string]any{"transfer": t.ID, "to": to.ID, "amount_cents": t.AmountCents, "shares": t.Shares}); err != nil {
			return err
		}
		for _, uid := range []string{from.UserID, to.UserID} {
			if err := s.mailUser(ctx, tx, uid, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
				return mailTransferExecuted(ctx, r, &t)
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// WithdrawTransfer lets the transferor take back a transfer the board has
// not carried out yet.
func (s *Memberships) WithdrawTransfer(ctx context.Context, actor models.Actor, userID, transferID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var t CapitalTransfer
		if err := kit.First(tx, &t, transferID, "transfer"); err != nil {
			return err
		}
		from, err := loadMembership(tx, t.FromMembershipID, true)
		if err != nil {
			return err
		}
		if from.UserID != userID {
			return models.NotFoundError("transfer")
		}
		res := tx.Model(&CapitalTransfer{}).Where("id = ? AND status IN ?", t.ID, []string{TransferProposed, TransferAgreed}).
			Updates(map[string]any{"status": TransferWithdrawn, "decided_by": recorder(actor), "decided_at": s.now()})
		if res.Error != nil {
			return fmt.Errorf("withdraw transfer %s: %w", t.ID, res.Error)
		}
		if res.RowsAffected != 1 {
			return models.Conflict("This transfer can no longer be withdrawn.")
		}
		return kit.RecordAudit(tx, actor, "membership.transfer_withdraw", "membership", from.ID, map[string]any{"transfer": t.ID})
	})
}

// RefuseTransfer lets the board turn down an agreed transfer.
func (s *Memberships) RefuseTransfer(ctx context.Context, actor models.Actor, transferID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := requireBoardTx(tx, actor, "Only the board can refuse a transfer."); err != nil {
			return err
		}
		var t CapitalTransfer
		if err := kit.First(tx, &t, transferID, "transfer"); err != nil {
			return err
		}
		res := tx.Model(&CapitalTransfer{}).Where("id = ? AND status IN ?", t.ID, []string{TransferProposed, TransferAgreed}).
			Updates(map[string]any{"status": TransferRefused, "decided_by": recorder(actor), "decided_at": s.now()})
		if res.Error != nil {
			return fmt.Errorf("refuse transfer %s: %w", t.ID, res.Error)
		}
		if res.RowsAffected != 1 {
			return models.Conflict("This transfer has already been decided.")
		}
		return kit.RecordAudit(tx, actor, "membership.transfer_refuse", "membership", t.FromMembershipID, map[string]any{"transfer": t.ID})
	})
}

func errSafe(err error) string {
	if de, ok := models.AsError(err); ok {
		for _, m := range de.Fields {
			return m
		}
		return de.Safe
	}
	return "internal error"
}

// TransfersOf lists the transfers a membership is party to, newest first.
func transfersOf(tx *gorm.DB, membershipID string) ([]CapitalTransfer, error) {
	var out []CapitalTransfer
	err := tx.Where("from_membership_id = ? OR to_membership_id = ?", membershipID, membershipID).
		Order("created_at DESC, id DESC").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("load transfers of %s: %w", membershipID, err)
	}
	return out, nil
}

// AgreedTransfers lists the transfers awaiting the board, oldest first.
func (s *Memberships) AgreedTransfers(ctx context.Context) ([]CapitalTransfer, error) {
	var out []CapitalTransfer
	if err := s.db.Gorm.WithContext(ctx).Where("status = ?", TransferAgreed).Order("receiver_agreed_at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list agreed transfers: %w", err)
	}
	return out, nil
}
