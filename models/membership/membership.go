package membership

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
)

// MembershipStatus is where a membership stands; see the transitions in
// membership_board.go, membership_notice.go and membership_member.go.
type MembershipStatus string

const (
	StatusApplicant MembershipStatus = "applicant" // applied, waiting for the board
	StatusMember    MembershipStatus = "member"
	StatusLeaving   MembershipStatus = "leaving"  // gave notice on the whole membership
	StatusFormer    MembershipStatus = "former"   // left by notice
	StatusExcluded  MembershipStatus = "excluded" // excluded by the cooperative
	StatusRejected  MembershipStatus = "rejected" // never stored: a rejected application is deleted
)

// openStatuses may not exist twice for one account.
var openStatuses = []MembershipStatus{StatusApplicant, StatusMember, StatusLeaving, StatusExcluding}

// Person kinds of an applicant.
const (
	PersonNatural = "natural"
	PersonLegal   = "legal"
)

// Membership is an application and, once admitted, the member's entry in
// the register (§30 GenG).
type Membership struct {
	ID               string           `json:"id"`
	UserID           string           `json:"user_id"`
	Status           MembershipStatus `json:"status"`
	MemberNumber     *int64           `json:"member_number,omitempty"`
	PersonKind       string           `json:"person_kind"`
	LegalName        string           `json:"legal_name"`
	Organisation     string           `json:"organisation,omitempty"`
	Representative   string           `json:"representative,omitempty"`
	Street           string           `json:"street"`
	PostalCode       string           `json:"postal_code"`
	City             string           `json:"city"`
	Country          string           `json:"country"`
	SharesApplied    int              `json:"shares_applied"`
	SEPAMandate      bool             `json:"sepa_mandate" gorm:"column:sepa_mandate"`
	IBAN             string           `json:"iban,omitempty" gorm:"column:iban"`
	AccountHolder    string           `json:"account_holder,omitempty"`
	BylawsVersion    string           `json:"bylaws_version"`
	BylawsAcceptedAt time.Time        `json:"bylaws_accepted_at"`
	Declaration      string           `json:"declaration"` // the applicant's declaration in text form
	AppliedAt        time.Time        `json:"applied_at"`
	AdmittedOn       *time.Time       `json:"admitted_on,omitempty"`
	LeftOn           *time.Time       `json:"left_on,omitempty"`
	LeaveReason      string           `json:"leave_reason,omitempty"`
	PurgedAt         *time.Time       `json:"purged_at,omitempty"`
	CreatedAt        time.Time        `json:"created_at"`
	UpdatedAt        time.Time        `json:"updated_at"`
}

// DisplayName is the name under which the member appears in the register.
func (m *Membership) DisplayName() string {
	if m.PersonKind == PersonLegal && m.Organisation != "" {
		return m.Organisation
	}
	return m.LegalName
}

// Approval is one board member's vote to admit an applicant.
type Approval struct {
	MembershipID string    `json:"membership_id"`
	BoardUserID  string    `json:"board_user_id"`
	BoardName    string    `json:"board_name" gorm:"->"` // joined from users
	ApprovedAt   time.Time `json:"approved_at"`
}

func (Approval) TableName() string { return "membership_approvals" }

// MembershipEvent is one dated change of a register entry.
type MembershipEvent struct {
	ID            string    `json:"id"`
	MembershipID  string    `json:"membership_id"`
	Kind          string    `json:"kind"`
	EffectiveDate time.Time `json:"effective_date"`
	Detail        string    `json:"detail"` // in English: the record
	// DetailMsg is Detail's format and arguments, for the pages to show it
	// in the reader's language; zero on rows from before it was kept.
	DetailMsg models.Msg `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
}

// Kinds of membership events.
const (
	EventApplied            = "applied"
	EventAdmitted           = "admitted"
	EventSharesSubscribed   = "shares_subscribed"
	EventNoticeGiven        = "notice_given"
	EventNoticeWithdrawn    = "notice_withdrawn"
	EventAddressChanged     = "address_changed"
	EventSharesCancelled    = "shares_cancelled"
	EventLeft               = "left"
	EventExcluded           = "excluded"
	EventAppointed          = "appointed" // to an organ (organs.go)
	EventExclusionLetter    = "exclusion_letter"
	EventCapitalTransferred = "capital_transferred" // received by transfer (§76 GenG)
)

// Refund is paid-in capital the cooperative owes a (former) member.
type Refund struct {
	ID           string     `json:"id"`
	MembershipID string     `json:"membership_id"`
	AmountCents  int64      `json:"amount_cents"`
	Reason       string     `json:"reason"`
	DueOn        time.Time  `json:"due_on"`
	CreatedAt    time.Time  `json:"created_at"`
	PaidAt       *time.Time `json:"paid_at,omitempty"`
}

// refundDelay: the capital of a leaving member is paid out within six months
// of leaving (§73(2) GenG).
const refundDelay = 6

// Rejection records that an application was rejected, and nothing more.
type Rejection struct {
	ID         string
	RejectedAt time.Time
}

// Memberships runs applications, the member register and its ledgers.
type Memberships struct {
	db     *models.DB
	queue  models.Queue
	rules  *rulebook.Rules
	clock  models.Clock
	usage  UsageFunc  // nil: no VMs to weigh a partial notice against
	rights RightsFunc // nil: no §67a rights (notice_67a.go)
}

// UsageFunc sums what a member's VMs take, inside tx. The VM domain (ranked
// above this one) provides it, so a partial notice can be weighed against
// the VMs it would leave without entitlement (§67b GenG).
type UsageFunc func(tx *gorm.DB, userID string) (rulebook.Entitlement, error)

// SetUsage hands in the VM domain's usage; call it once while wiring up.
func (s *Memberships) SetUsage(u UsageFunc) { s.usage = u }

func NewMemberships(db *models.DB, queue models.Queue, rules *rulebook.Rules, clock models.Clock) *Memberships {
	return &Memberships{db: db, queue: queue, rules: rules, clock: clock}
}

func (s *Memberships) now() time.Time   { return s.clock.Now().UTC() }
func (s *Memberships) today() time.Time { return kit.DateOf(s.clock.Now()) }

// tx runs fn in a transaction. Membership changes may grant or take the
// member role, so after a commit the cache of signed-in users is dropped.
func (s *Memberships) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	err := s.db.Tx(ctx, fn)
	if err == nil {
		account.ForgetSignedInUsers(s.db)
	}
	return err
}

// loadMembership reads a membership; with lock it holds the row until the
// transaction ends (PostgreSQL; SQLite serialises writers anyway), so that
// concurrent board actions and bookings see each other's results.
func loadMembership(tx *gorm.DB, id string, lock bool) (*Membership, error) {
	var m Membership
	q := tx
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	err := q.First(&m, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, models.NotFoundError("membership")
	}
	if err != nil {
		return nil, fmt.Errorf("load membership %s: %w", id, err)
	}
	return &m, nil
}

// latestMembership is the account's most recent membership; older ones
// (former, excluded) are kept in the register but not shown first.
func latestMembership(tx *gorm.DB, userID string, lock bool) (*Membership, error) {
	var m Membership
	q := tx
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	err := q.Where("user_id = ?", userID).Order("created_at DESC, id DESC").First(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, models.NotFoundError("membership")
	}
	if err != nil {
		return nil, fmt.Errorf("load membership of %s: %w", userID, err)
	}
	return &m, nil
}

// addEvent records an event of the member register. Write detail's format
// as a literal (models.Msgf("…", v)): the pages translate it.
func (s *Memberships) addEvent(tx *gorm.DB, membershipID, kind string, date time.Time, detail models.Msg) error {
	ev := MembershipEvent{ID: kit.NewID(), MembershipID: membershipID, Kind: kind, EffectiveDate: date,
		Detail: detail.String(), DetailMsg: detail, CreatedAt: s.now()}
	if err := tx.Create(&ev).Error; err != nil {
		return fmt.Errorf("record membership event %s: %w", kind, err)
	}
	return nil
}

// mailUser enqueues a mail to an account in tx, written by build in the
// account's language.
func (s *Memberships) mailUser(ctx context.Context, tx *gorm.DB, userID string, build account.MailBuilder) error {
	return account.MailTo(ctx, s.queue, tx, userID, build)
}

// endMembershipTx closes a membership that ends (by notice or exclusion):
// the remaining shares are cancelled, the member role is revoked and the
// paid-in capital not yet owed back is recorded as a refund due.
func (s *Memberships) endMembershipTx(tx *gorm.DB, actor models.Actor, m *Membership, status MembershipStatus, leftOn time.Time, reason string, note models.Msg) (refund int64, due time.Time, err error) {
	res := tx.Model(&Membership{}).Where("id = ? AND status IN ?", m.ID, memberStatuses).
		Updates(map[string]any{"status": status, "left_on": leftOn, "leave_reason": reason, "updated_at": s.now()})
	if res.Error != nil {
		return 0, due, fmt.Errorf("end membership %s: %w", m.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return 0, due, models.Conflict("This membership has already ended.")
	}
	m.Status, m.LeftOn, m.LeaveReason = status, &leftOn, reason
	shares, err := shareBalance(tx, m.ID)
	if err != nil {
		return 0, due, err
	}
	if shares > 0 {
		if _, err := s.bookShares(tx, actor, m.ID, ShareCancellation, -shares, leftOn, nil, note); err != nil {
			return 0, due, err
		}
	}
	if err := account.RevokeRoleTx(tx, actor, m.UserID, account.RoleMember); err != nil {
		return 0, due, err
	}
	// A seat needs a membership: it ends with it, bootstrap grants too.
	if err := endSeatsTx(tx, actor, m.UserID, leftOn, EndMembershipEnded); err != nil {
		return 0, due, err
	}
	// Exclusion proceedings, declarations of further shares and transfers
	// still open have nothing left to act on.
	if err := tx.Model(&Exclusion{}).Where("membership_id = ? AND closed_at IS NULL", m.ID).Update("closed_at", s.now()).Error; err != nil {
		return 0, due, fmt.Errorf("close exclusion proceedings of %s: %w", m.ID, err)
	}
	if err := tx.Model(&FurtherShares{}).Where("membership_id = ? AND status = ?", m.ID, SubscriptionPending).
		Updates(map[string]any{"status": SubscriptionRejected, "reason": "the membership ended", "decided_at": s.now(), "decided_by": recorder(actor)}).Error; err != nil {
		return 0, due, fmt.Errorf("close share declarations of %s: %w", m.ID, err)
	}
	if err := tx.Model(&CapitalTransfer{}).Where("(from_membership_id = ? OR to_membership_id = ?) AND status IN ?", m.ID, m.ID, []string{TransferProposed, TransferAgreed}).
		Updates(map[string]any{"status": TransferRefused, "decided_at": s.now(), "decided_by": "membership ended"}).Error; err != nil {
		return 0, due, fmt.Errorf("close transfers of %s: %w", m.ID, err)
	}
	refund, err = refundableCapital(tx, m.ID, 0, 0)
	if err != nil {
		return 0, due, err
	}
	due = kit.AddMonths(leftOn, refundDelay)
	if refund > 0 {
		if err := s.recordRefund(tx, m.ID, refund, due, reason); err != nil {
			return 0, due, err
		}
	}
	return refund, due, nil
}

func (s *Memberships) recordRefund(tx *gorm.DB, membershipID string, amount int64, due time.Time, reason string) error {
	r := Refund{ID: kit.NewID(), MembershipID: membershipID, AmountCents: amount, Reason: reason, DueOn: due, CreatedAt: s.now()}
	if err := tx.Create(&r).Error; err != nil {
		return fmt.Errorf("record refund: %w", err)
	}
	return nil
}
