package membership

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Kinds of share bookings.
const (
	ShareSubscription = "subscription"
	ShareCancellation = "cancellation"
	ShareReversal     = "reversal"
)

// Kinds of capital bookings.
const (
	CapitalDeposit     = "deposit"
	CapitalDisbursal   = "disbursal"
	CapitalTransferOut = "transfer_out"
	CapitalTransferIn  = "transfer_in"
	CapitalAdoption    = "adoption" // capital adopted from a deceased member's estate (§77 GenG)
	CapitalClearing    = "clearing" // set off against a claim of the cooperative
	CapitalReversal    = "reversal"
)

// ShareTransaction is one row of the append-only share ledger.
type ShareTransaction struct {
	ID            string    `json:"id"`
	MembershipID  string    `json:"membership_id"`
	Kind          string    `json:"kind"`
	Shares        int       `json:"shares"` // signed
	EffectiveDate time.Time `json:"effective_date"`
	ReversesID    *string   `json:"reverses_id,omitempty"`
	Note          string    `json:"note"` // in English: the record
	// NoteMsg is the format and arguments of a note the portal wrote, for
	// the pages to show it in the reader's language; a note a person wrote
	// is kept as written (models.Verbatim).
	NoteMsg   models.Msg `json:"-"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
}

// CapitalTransaction is one row of the append-only capital ledger.
type CapitalTransaction struct {
	ID                      string    `json:"id"`
	MembershipID            string    `json:"membership_id"`
	Kind                    string    `json:"kind"`
	AmountCents             int64     `json:"amount_cents"` // signed
	EffectiveDate           time.Time `json:"effective_date"`
	CounterpartMembershipID *string   `json:"counterpart_membership_id,omitempty"`
	TransferID              *string   `json:"transfer_id,omitempty"`
	ReversesID              *string   `json:"reverses_id,omitempty"`
	Note                    string    `json:"note"` // in English: the record
	// NoteMsg is the format and arguments of a note the portal wrote (a
	// refund's disbursal, a §76 transfer), for the pages to show it in the
	// reader's language; a note a person wrote is kept as written
	// (models.Verbatim). bookCapital writes Note from it.
	NoteMsg   models.Msg `json:"-"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
}

func shareBalance(tx *gorm.DB, membershipID string) (int, error) {
	var n int64
	err := tx.Raw("SELECT CAST(COALESCE(SUM(shares), 0) AS BIGINT) FROM share_transactions WHERE membership_id = ?", membershipID).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("share balance of %s: %w", membershipID, err)
	}
	return int(n), nil
}

func capitalBalance(tx *gorm.DB, membershipID string) (int64, error) {
	var n int64
	err := tx.Raw("SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM capital_transactions WHERE membership_id = ?", membershipID).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("capital balance of %s: %w", membershipID, err)
	}
	return n, nil
}

func unpaidRefunds(tx *gorm.DB, membershipID string) (int64, error) {
	var n int64
	err := tx.Raw("SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM refunds WHERE membership_id = ? AND paid_at IS NULL", membershipID).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("refunds due to %s: %w", membershipID, err)
	}
	return n, nil
}

// refundableCapital is the paid-in capital beyond what keepShares need and
// beyond refunds already due: what a notice on shares frees.
func refundableCapital(tx *gorm.DB, membershipID string, keepShares int, price int64) (int64, error) {
	bal, err := capitalBalance(tx, membershipID)
	if err != nil {
		return 0, err
	}
	owed, err := unpaidRefunds(tx, membershipID)
	if err != nil {
		return 0, err
	}
	return max(0, bal-owed-int64(keepShares)*price), nil
}

// paidShares: a share counts as paid once the capital covers it in full, and
// never more shares than are subscribed.
func paidShares(subscribed int, capital, price int64) int {
	if price <= 0 || capital <= 0 {
		return 0
	}
	return int(min(int64(subscribed), capital/price))
}

// bookShares appends a share booking. The caller holds the membership's row
// lock, so the balance checked here is the balance the booking lands on.
func (s *Memberships) bookShares(tx *gorm.DB, actor models.Actor, membershipID, kind string, shares int, date time.Time, reverses *string, note models.Msg) (*ShareTransaction, error) {
	bal, err := shareBalance(tx, membershipID)
	if err != nil {
		return nil, err
	}
	if bal+shares < 0 {
		return nil, models.Conflictf("This booking would leave %d shares; a share balance cannot be negative.", bal+shares)
	}
	t := &ShareTransaction{ID: kit.NewID(), MembershipID: membershipID, Kind: kind, Shares: shares, EffectiveDate: date,
		ReversesID: reverses, Note: note.String(), NoteMsg: note, CreatedBy: actor.Email, CreatedAt: s.now()}
	if err := tx.Create(t).Error; err != nil {
		if kit.IsUniqueViolation(err) {
			return nil, models.Conflict("This booking has already been reversed.")
		}
		return nil, fmt.Errorf("book %s of %d shares: %w", kind, shares, err)
	}
	return t, nil
}

// bookCapital appends a capital booking; like bookShares it needs the
// membership's row lock. t's note is its NoteMsg (write the format as a
// literal: the pages translate it).
func (s *Memberships) bookCapital(tx *gorm.DB, actor models.Actor, t CapitalTransaction) (*CapitalTransaction, error) {
	bal, err := capitalBalance(tx, t.MembershipID)
	if err != nil {
		return nil, err
	}
	if bal+t.AmountCents < 0 {
		return nil, models.Conflictf("This booking would leave a capital balance of %s; it cannot be negative.", models.Cents(bal+t.AmountCents))
	}
	t.ID, t.Note, t.CreatedBy, t.CreatedAt = kit.NewID(), t.NoteMsg.String(), actor.Email, s.now()
	if err := tx.Create(&t).Error; err != nil {
		if kit.IsUniqueViolation(err) {
			return nil, models.Conflict("This booking has already been reversed.")
		}
		return nil, fmt.Errorf("book capital %s of %d cents: %w", t.Kind, t.AmountCents, err)
	}
	return &t, nil
}
