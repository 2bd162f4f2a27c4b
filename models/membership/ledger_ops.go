package membership

import (
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// RecordPayment books money a member paid in on their shares.
func (s *Memberships) RecordPayment(ctx context.Context, actor models.Actor, membershipID string, amountCents int64, date time.Time, note string) error {
	if err := s.validatePayment(amountCents, date, note); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		m, err := loadMembership(tx, membershipID, true)
		if err != nil {
			return err
		}
		if err := payable(m); err != nil {
			return err
		}
		t, err := s.bookCapital(tx, actor, CapitalTransaction{MembershipID: m.ID, Kind: CapitalDeposit, AmountCents: amountCents,
			EffectiveDate: kit.DateOf(date), NoteMsg: models.Verbatim(strings.TrimSpace(note))})
		if err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.payment", "membership", m.ID,
			map[string]any{"transaction_id": t.ID, "amount_cents": amountCents, "date": kit.FormatDate(t.EffectiveDate)}); err != nil {
			return err
		}
		return account.NotifyAndMail(ctx, s.queue, tx, m.UserID, account.KindPayments, "/membership",
			models.Msgf("Your payment of %s, received on %s, has been booked on your shares.", models.Cents(amountCents), t.EffectiveDate),
			func(ctx context.Context, r account.Recipient) jobargs.SendMail { return mailPaymentBooked(ctx, r, t) })
	})
}

// PaymentCheck is what the board confirms before a payment is booked.
type PaymentCheck struct {
	MemberNumber int64
	Name         string
	OwedCents    int64 // subscribed capital not paid in yet, never negative
	ExcessCents  int64 // how far the payment exceeds what is owed, or 0
}

// CheckPayment validates a payment as RecordPayment would, without booking
// it, and says how it compares with what the member owes.
func (s *Memberships) CheckPayment(ctx context.Context, membershipID string, amountCents int64, date time.Time, note string) (*PaymentCheck, error) {
	if err := s.validatePayment(amountCents, date, note); err != nil {
		return nil, err
	}
	db := s.db.Gorm.WithContext(ctx)
	m, err := loadMembership(db, membershipID, false)
	if err != nil {
		return nil, err
	}
	if err := payable(m); err != nil {
		return nil, err
	}
	owed, err := s.owed(db, m.ID)
	if err != nil {
		return nil, err
	}
	c := &PaymentCheck{Name: m.DisplayName(), OwedCents: owed, ExcessCents: max(0, amountCents-owed)}
	if m.MemberNumber != nil {
		c.MemberNumber = *m.MemberNumber
	}
	return c, nil
}

// owed is the subscribed capital (at today's share price) not yet paid in.
func (s *Memberships) owed(db *gorm.DB, membershipID string) (int64, error) {
	p, err := rulebook.RulesAt(db, s.now())
	if err != nil {
		return 0, err
	}
	shares, err := shareBalance(db, membershipID)
	if err != nil {
		return 0, err
	}
	paid, err := capitalBalance(db, membershipID)
	if err != nil {
		return 0, err
	}
	return max(0, int64(shares)*p.SharePriceCents-paid), nil
}

func (s *Memberships) validatePayment(amountCents int64, date time.Time, note string) error {
	fields := map[string]string{}
	kit.NoControl(fields, "note", note, true)
	if amountCents <= 0 {
		fields["amount"] = "Enter an amount greater than zero."
	}
	if msg := s.checkBookingDate(date); msg != "" {
		fields["date"] = msg
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return nil
}

func payable(m *Membership) error {
	if !slices.Contains(memberStatuses, m.Status) {
		return models.Conflict("Payments can be booked only for members.")
	}
	return nil
}

func (s *Memberships) checkBookingDate(date time.Time) string {
	switch {
	case date.IsZero():
		return "Enter the date of the booking."
	case kit.DateOf(date).After(s.today()):
		return "The date lies in the future."
	}
	return ""
}

// ReverseShareTransaction corrects a share booking by booking its opposite.
func (s *Memberships) ReverseShareTransaction(ctx context.Context, actor models.Actor, txID, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return models.Invalid(map[string]string{"reason": "Give the reason for the reversal."})
	}
	if kit.HasControl(reason, true) {
		return models.Invalid(map[string]string{"reason": kit.ControlCharsMessage})
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var orig ShareTransaction
		if err := kit.First(tx, &orig, txID, "booking"); err != nil {
			return err
		}
		if err := checkReversible(tx, &ShareTransaction{}, orig.Kind == ShareReversal, orig.ID); err != nil {
			return err
		}
		if _, err := loadMembership(tx, orig.MembershipID, true); err != nil {
			return err
		}
		rev, err := s.bookShares(tx, actor, orig.MembershipID, ShareReversal, -orig.Shares, s.today(), &orig.ID, models.Verbatim(reason))
		if err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "ledger.reversal", "membership", orig.MembershipID,
			map[string]any{"ledger": "shares", "reversed_id": orig.ID, "reversal_id": rev.ID, "reason": reason})
	})
}

// ReverseCapitalTransaction corrects a capital booking by booking its
// opposite. Reversing one side of a transfer reverses both.
func (s *Memberships) ReverseCapitalTransaction(ctx context.Context, actor models.Actor, txID, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return models.Invalid(map[string]string{"reason": "Give the reason for the reversal."})
	}
	if kit.HasControl(reason, true) {
		return models.Invalid(map[string]string{"reason": kit.ControlCharsMessage})
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var orig CapitalTransaction
		if err := kit.First(tx, &orig, txID, "booking"); err != nil {
			return err
		}
		rows := []CapitalTransaction{orig}
		if orig.TransferID != nil {
			rows = nil
			if err := tx.Where("transfer_id = ?", *orig.TransferID).Order("id").Find(&rows).Error; err != nil {
				return fmt.Errorf("load transfer %s: %w", *orig.TransferID, err)
			}
		}
		ids := make([]string, 0, len(rows))
		for _, r := range rows {
			ids = append(ids, r.MembershipID)
		}
		if _, err := lockMemberships(tx, ids...); err != nil {
			return err
		}
		// Reverse debits first, so that no balance dips below zero on the
		// way when one membership is on both sides of the bookings.
		slices.SortStableFunc(rows, func(a, b CapitalTransaction) int { return cmp.Compare(a.AmountCents, b.AmountCents) })
		for _, r := range rows {
			if err := checkReversible(tx, &CapitalTransaction{}, r.Kind == CapitalReversal, r.ID); err != nil {
				return err
			}
			rev, err := s.bookCapital(tx, actor, CapitalTransaction{MembershipID: r.MembershipID, Kind: CapitalReversal,
				AmountCents: -r.AmountCents, EffectiveDate: s.today(), CounterpartMembershipID: r.CounterpartMembershipID,
				ReversesID: &r.ID, NoteMsg: models.Verbatim(reason)})
			if err != nil {
				return err
			}
			if err := kit.RecordAudit(tx, actor, "ledger.reversal", "membership", r.MembershipID,
				map[string]any{"ledger": "capital", "reversed_id": r.ID, "reversal_id": rev.ID, "reason": reason}); err != nil {
				return err
			}
		}
		return nil
	})
}

// lockMemberships locks the memberships of rows in id order, so that two
// transactions locking the same pair cannot deadlock.
func lockMemberships(tx *gorm.DB, ids ...string) (map[string]*Membership, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	out := map[string]*Membership{}
	for _, id := range slices.Compact(ids) {
		m, err := loadMembership(tx, id, true)
		if err != nil {
			return nil, err
		}
		out[id] = m
	}
	return out, nil
}

// checkReversible refuses to reverse a reversal or to reverse twice; the
// unique index on reverses_id backs the second check under concurrency.
func checkReversible(tx *gorm.DB, model any, isReversal bool, id string) error {
	if isReversal {
		return models.Conflict("A reversal cannot be reversed; book the correct entry instead.")
	}
	var n int64
	if err := tx.Model(model).Where("reverses_id = ?", id).Count(&n).Error; err != nil {
		return fmt.Errorf("check reversal of %s: %w", id, err)
	}
	if n > 0 {
		return models.Conflict("This booking has already been reversed.")
	}
	return nil
}

// TransferCapital moves paid-in capital from one membership to another
// (§76 GenG), as a transfer_out and a transfer_in booking.
func (s *Memberships) TransferCapital(ctx context.Context, actor models.Actor, fromMembershipID, toMembershipID string, amountCents int64, date time.Time, note string) error {
	fields := map[string]string{}
	if amountCents <= 0 {
		fields["amount"] = "Enter an amount greater than zero."
	}
	if fromMembershipID == toMembershipID {
		fields["to"] = "Choose a different membership to transfer to."
	}
	if msg := s.checkBookingDate(date); msg != "" {
		fields["date"] = msg
	}
	note = strings.TrimSpace(note)
	kit.NoControl(fields, "note", note, true)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		locked, err := lockMemberships(tx, fromMembershipID, toMembershipID)
		if err != nil {
			return err
		}
		from, to := locked[fromMembershipID], locked[toMembershipID]
		if from.Status == StatusApplicant {
			return models.Conflict("An applicant has no capital to transfer.")
		}
		if to.Status != StatusMember && to.Status != StatusLeaving {
			return models.Conflict("Capital can be transferred only to a member.")
		}
		transferID := kit.NewID()
		d := kit.DateOf(date)
		out, err := s.bookCapital(tx, actor, CapitalTransaction{MembershipID: from.ID, Kind: CapitalTransferOut, AmountCents: -amountCents,
			EffectiveDate: d, CounterpartMembershipID: &to.ID, TransferID: &transferID, NoteMsg: models.Verbatim(note)})
		if err != nil {
			return err
		}
		in, err := s.bookCapital(tx, actor, CapitalTransaction{MembershipID: to.ID, Kind: CapitalTransferIn, AmountCents: amountCents,
			EffectiveDate: d, CounterpartMembershipID: &from.ID, TransferID: &transferID, NoteMsg: models.Verbatim(note)})
		if err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "ledger.transfer", "membership", from.ID, map[string]any{
			"to": to.ID, "amount_cents": amountCents, "out_id": out.ID, "in_id": in.ID, "date": kit.FormatDate(d)})
	})
}

// PayRefund records that a refund due has been paid out, booking the
// disbursal in the capital ledger.
func (s *Memberships) PayRefund(ctx context.Context, actor models.Actor, refundID string, date time.Time) error {
	if msg := s.checkBookingDate(date); msg != "" {
		return models.Invalid(map[string]string{"date": msg})
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var r Refund
		if err := kit.First(tx, &r, refundID, "refund"); err != nil {
			return err
		}
		if _, err := loadMembership(tx, r.MembershipID, true); err != nil {
			return err
		}
		res := tx.Model(&Refund{}).Where("id = ? AND paid_at IS NULL", r.ID).Update("paid_at", s.now())
		if res.Error != nil {
			return fmt.Errorf("mark refund %s paid: %w", r.ID, res.Error)
		}
		if res.RowsAffected != 1 {
			return models.Conflict("This refund has already been paid.")
		}
		t, err := s.bookCapital(tx, actor, CapitalTransaction{MembershipID: r.MembershipID, Kind: CapitalDisbursal,
			AmountCents: -r.AmountCents, EffectiveDate: kit.DateOf(date), NoteMsg: models.Msgf("refund %s", r.ID)})
		if err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "membership.refund_paid", "membership", r.MembershipID,
			map[string]any{"refund_id": r.ID, "transaction_id": t.ID, "amount_cents": r.AmountCents})
	})
}
