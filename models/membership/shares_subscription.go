package membership

// Further shares (§15b GenG). A member subscribes further shares by a
// declaration in text form — the portal shows the exact text and keeps
// what was confirmed — and the board admits it; only the admission books
// the shares. §15b(3): while the shares already held are not fully paid
// in, further shares are admitted only within the compulsory holding the
// bylaws prescribe.

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

// Where a declaration of further shares stands.
const (
	SubscriptionPending  = "pending"
	SubscriptionAdmitted = "admitted"
	SubscriptionRejected = "rejected"
)

// FurtherShares is a member's declaration of further shares.
type FurtherShares struct {
	ID           string     `json:"id"`
	MembershipID string     `json:"membership_id"`
	Shares       int        `json:"shares"`
	Declaration  string     `json:"declaration"`
	DeclaredAt   time.Time  `json:"declared_at"`
	Status       string     `json:"status"`
	DecidedBy    string     `json:"decided_by,omitempty"`
	DecidedAt    *time.Time `json:"decided_at,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

func (FurtherShares) TableName() string { return "share_subscriptions" }

// SharesDeclaration is the exact text a member confirms to subscribe
// further shares (text form, §15b(1) GenG).
func SharesDeclaration(m *Membership, shares int, p rulebook.RuleParams) string {
	number := ""
	if m.MemberNumber != nil {
		number = fmt.Sprintf(" (member number %d)", *m.MemberNumber)
	}
	return fmt.Sprintf("I, %s%s, subscribe %d further share(s) of %s each, %s in total, in the cooperative under its "+
		"bylaws, version %s. I undertake to pay in the full amount of the shares as the bylaws require. "+
		"The shares count once the board has admitted this subscription.",
		m.DisplayName(), number, shares, kit.FormatCents(p.SharePriceCents), kit.FormatCents(int64(shares)*p.SharePriceCents), p.BylawsVersion)
}

// SubscribeShares records userID's declaration of further shares for the
// board to admit. confirmed says the member confirmed the declaration text.
func (s *Memberships) SubscribeShares(ctx context.Context, actor models.Actor, userID string, shares int, confirmed bool) (*FurtherShares, error) {
	fields := map[string]string{}
	if shares < 1 {
		fields["shares"] = "Subscribe at least one share."
	}
	if !confirmed {
		fields["confirm"] = "Confirm the declaration to subscribe the shares."
	}
	if len(fields) > 0 {
		return nil, models.Invalid(fields)
	}
	var sub *FurtherShares
	err := s.tx(ctx, func(tx *gorm.DB) error {
		m, err := latestMembership(tx, userID, true)
		if err != nil {
			return err
		}
		if m.Status != StatusMember {
			return models.Conflict("Only members can subscribe further shares.")
		}
		p, err := rulebook.RulesAt(tx, s.now())
		if err != nil {
			return err
		}
		if err := checkFurtherShares(tx, m, shares, p); err != nil {
			return err
		}
		sub = &FurtherShares{ID: kit.NewID(), MembershipID: m.ID, Shares: shares, Declaration: SharesDeclaration(m, shares, p),
			DeclaredAt: s.now(), Status: SubscriptionPending, CreatedAt: s.now()}
		if err := tx.Create(sub).Error; err != nil {
			return fmt.Errorf("record share subscription: %w", err)
		}
		if err := kit.RecordAudit(tx, actor, "membership.shares_declare", "membership", m.ID,
			map[string]any{"subscription_id": sub.ID, "shares": shares}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
			return mailSharesDeclared(ctx, r, sub)
		})
	})
	return sub, err
}

// PreviewShares checks a subscription of further shares as SubscribeShares
// would and returns the declaration the member is asked to confirm.
func (s *Memberships) PreviewShares(ctx context.Context, userID string, shares int) (string, error) {
	if shares < 1 {
		return "", models.Invalid(map[string]string{"shares": "Subscribe at least one share."})
	}
	db := s.db.Gorm.WithContext(ctx)
	m, err := latestMembership(db, userID, false)
	if err != nil {
		return "", err
	}
	if m.Status != StatusMember {
		return "", models.Conflict("Only members can subscribe further shares.")
	}
	p, err := rulebook.RulesAt(db, s.now())
	if err != nil {
		return "", err
	}
	if err := checkFurtherShares(db, m, shares, p); err != nil {
		return "", err
	}
	return SharesDeclaration(m, shares, p), nil
}

// checkFurtherShares: the shares held, those awaiting admission and the
// new ones stay within the maximum.
func checkFurtherShares(tx *gorm.DB, m *Membership, shares int, p rulebook.RuleParams) error {
	held, err := shareBalance(tx, m.ID)
	if err != nil {
		return err
	}
	pending, err := pendingSubscribedShares(tx, m.ID)
	if err != nil {
		return err
	}
	if held+pending+shares > p.MaxShares {
		left := max(0, p.MaxShares-held-pending)
		if pending == 0 {
			return models.Invalidf("shares", "A member holds at most %d shares; you hold %d and can add %d more.", p.MaxShares, held, left)
		}
		return models.Invalidf("shares", "A member holds at most %d shares; you hold %d, %d more await admission, and you can add %d more.", p.MaxShares, held, pending, left)
	}
	return nil
}

func pendingSubscribedShares(tx *gorm.DB, membershipID string) (int, error) {
	var n int64
	err := tx.Raw(`SELECT CAST(COALESCE(SUM(shares), 0) AS BIGINT) FROM share_subscriptions WHERE membership_id = ? AND status = ?`,
		membershipID, SubscriptionPending).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("pending shares of %s: %w", membershipID, err)
	}
	return int(n), nil
}

// PendingSubscription is one line of the board's list.
type PendingSubscription struct {
	FurtherShares
	MemberNumber int64
	Name         string
	Held         int
	OwedCents    int64
}

// PendingSubscriptions lists declarations of further shares awaiting the
// board, oldest first, with what each member holds and owes.
func (s *Memberships) PendingSubscriptions(ctx context.Context) ([]PendingSubscription, error) {
	db := s.db.Gorm.WithContext(ctx)
	var subs []FurtherShares
	if err := db.Where("status = ?", SubscriptionPending).Order("declared_at, id").Find(&subs).Error; err != nil {
		return nil, fmt.Errorf("list share subscriptions: %w", err)
	}
	out := make([]PendingSubscription, 0, len(subs))
	for _, sub := range subs {
		m, err := loadMembership(db, sub.MembershipID, false)
		if err != nil {
			return nil, err
		}
		ps := PendingSubscription{FurtherShares: sub, Name: m.DisplayName()}
		if m.MemberNumber != nil {
			ps.MemberNumber = *m.MemberNumber
		}
		if ps.Held, err = shareBalance(db, m.ID); err != nil {
			return nil, err
		}
		if ps.OwedCents, err = s.owed(db, m.ID); err != nil {
			return nil, err
		}
		out = append(out, ps)
	}
	return out, nil
}

// AdmitShares admits a declaration of further shares and books them.
func (s *Memberships) AdmitShares(ctx context.Context, actor models.Actor, subscriptionID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		sub, m, err := openSubscriptionTx(tx, actor, subscriptionID, "admit")
		if err != nil {
			return err
		}
		if m.Status != StatusMember {
			return models.Conflict("Only members can take further shares; this membership is " + string(m.Status) + ".")
		}
		p, err := rulebook.RulesAt(tx, s.now())
		if err != nil {
			return err
		}
		held, err := shareBalance(tx, m.ID)
		if err != nil {
			return err
		}
		if held+sub.Shares > p.MaxShares {
			return models.Conflictf("The member holds %d shares; with %d more they would exceed the maximum of %d.", held, sub.Shares, p.MaxShares)
		}
		owed, err := s.owed(tx, m.ID)
		if err != nil {
			return err
		}
		if owed > 0 && held+sub.Shares > p.Compulsory() {
			return models.Conflictf("The shares held are not fully paid in (%s owed): further shares can be admitted only once they are (§15b(3) GenG).", models.Cents(owed))
		}
		if err := decideSubscription(tx, actor, sub, SubscriptionAdmitted, "", s.now()); err != nil {
			return err
		}
		today := s.today()
		t, err := s.bookShares(tx, actor, m.ID, ShareSubscription, sub.Shares, today, nil, models.Msgf("further shares, declared %s", kit.DateOf(sub.DeclaredAt)))
		if err != nil {
			return err
		}
		if err := s.addEvent(tx, m.ID, EventSharesSubscribed, today, models.Msgf("admitted %d further shares, now %d", sub.Shares, held+sub.Shares)); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.shares_admit", "membership", m.ID,
			map[string]any{"subscription_id": sub.ID, "shares": sub.Shares, "total": held + sub.Shares, "transaction_id": t.ID}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
			return mailSharesSubscribed(ctx, r, m, sub.Shares, held+sub.Shares, p)
		})
	})
}

// RejectShares turns a declaration of further shares down, with a reason
// the member is told.
func (s *Memberships) RejectShares(ctx context.Context, actor models.Actor, subscriptionID, reason string) error {
	reason = strings.TrimSpace(reason)
	fields := map[string]string{}
	kit.TextBlock(fields, "reason", reason, "Give the member the reason.", 2000)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		sub, m, err := openSubscriptionTx(tx, actor, subscriptionID, "reject")
		if err != nil {
			return err
		}
		if err := decideSubscription(tx, actor, sub, SubscriptionRejected, reason, s.now()); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.shares_reject", "membership", m.ID,
			map[string]any{"subscription_id": sub.ID, "shares": sub.Shares}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
			return mailSharesRejected(ctx, r, sub, reason)
		})
	})
}

func openSubscriptionTx(tx *gorm.DB, actor models.Actor, id, verb string) (*FurtherShares, *Membership, error) {
	var sub FurtherShares
	if err := kit.First(tx, &sub, id, "share subscription"); err != nil {
		return nil, nil, err
	}
	m, err := loadMembership(tx, sub.MembershipID, true)
	if err != nil {
		return nil, nil, err
	}
	if ok, err := account.UserHasRole(tx, actor.UserID, account.RoleBoard); err != nil {
		return nil, nil, err
	} else if !ok {
		return nil, nil, models.Forbidden("Only the board can " + verb + " further shares.")
	}
	if m.UserID == actor.UserID {
		return nil, nil, models.Forbidden("You cannot " + verb + " your own shares.")
	}
	if sub.Status != SubscriptionPending {
		return nil, nil, models.Conflict("This subscription has already been decided.")
	}
	return &sub, m, nil
}

func decideSubscription(tx *gorm.DB, actor models.Actor, sub *FurtherShares, status, reason string, now time.Time) error {
	res := tx.Model(&FurtherShares{}).Where("id = ? AND status = ?", sub.ID, SubscriptionPending).
		Updates(map[string]any{"status": status, "decided_by": recorder(actor), "decided_at": now, "reason": reason})
	if res.Error != nil {
		return fmt.Errorf("decide share subscription %s: %w", sub.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return models.Conflict("This subscription has already been decided.")
	}
	sub.Status = status
	return nil
}
