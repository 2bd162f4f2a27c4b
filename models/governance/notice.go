package governance

import (
	"time"

	"allmende/models"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"

	"gorm.io/gorm"
)

// The notice of a general assembly (§46 GenG), counted in whole days in
// the cooperative's time zone. An invitation counts as received
// invitation_receipt_days after the day it was sent (the bylaws say so;
// §46(1) lets them); between that day and the day the assembly begins
// there must be at least assembly_notice_days whole days (at least 14).
// Items announced later, on a demand of members (§45(2)), need seven whole
// days counted the same way (§46(2)). The portal refuses what breaks them.

// supplementNoticeDays is the notice of items announced after the
// invitation (§46(2) GenG: at least one week).
const supplementNoticeDays = 7

type noticeRules struct {
	noticeDays, receiptDays int
	loc                     *time.Location
}

func (g *Governance) noticeRules(tx *gorm.DB, at time.Time) (*noticeRules, error) {
	var n noticeRules
	var err error
	if n.noticeDays, err = ruleIntAt(tx, rulebook.RuleAssemblyNoticeDays, at); err != nil {
		return nil, err
	}
	if n.receiptDays, err = ruleIntAt(tx, rulebook.RuleInvitationReceiptDays, at); err != nil {
		return nil, err
	}
	if n.loc, err = g.location(tx); err != nil {
		return nil, err
	}
	return &n, nil
}

// dayOf is the calendar day of t in loc, as a UTC midnight (for counting).
func dayOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

// wholeDaysBetween counts the days strictly between two calendar days.
func wholeDaysBetween(from, to time.Time) int {
	return int(to.Sub(from).Hours()/24) - 1
}

// received is the day an invitation sent at sent counts as received.
func (n *noticeRules) received(sent time.Time) time.Time {
	return dayOf(sent, n.loc).AddDate(0, 0, n.receiptDays)
}

// lastSendDay is the last day a notice of days whole days can go out for
// an assembly beginning at begins.
func (n *noticeRules) lastSendDay(begins time.Time, days int) time.Time {
	return dayOf(begins, n.loc).AddDate(0, 0, -days-1-n.receiptDays)
}

// NoticeShortfall is why a notice sent today comes too late (§46 GenG):
// it counts as received ReceiptDays after sending, leaving Left whole days
// before the assembly Begins where Required are needed; LastDay was the
// last day to send it.
type NoticeShortfall struct {
	Received, Begins, LastDay time.Time
	ReceiptDays, Left         int
	Required                  int
}

// shortfall is why a notice of days whole days sent at sent comes too
// late for an assembly beginning at begins; nil when it is in time.
func (n *noticeRules) shortfall(begins, sent time.Time, days int) *NoticeShortfall {
	rec := n.received(sent)
	left := wholeDaysBetween(rec, dayOf(begins, n.loc))
	if left >= days {
		return nil
	}
	return &NoticeShortfall{Received: rec, Begins: dayOf(begins, n.loc), LastDay: n.lastSendDay(begins, days),
		ReceiptDays: n.receiptDays, Left: max(left, 0), Required: days}
}

// lateness tells whether a notice of days whole days sent at sent comes
// too late for an assembly beginning at begins, and if so the parts of the
// message that says why: the day it counts as received, the receipt days,
// the whole days left, the day the assembly begins, the days required and
// the last day to send it.
func (n *noticeRules) lateness(begins, sent time.Time, days int) ([]any, bool) {
	rec := n.received(sent)
	left := wholeDaysBetween(rec, dayOf(begins, n.loc))
	if left >= days {
		return nil, false
	}
	return []any{kit.DateOf(rec), n.receiptDays, max(left, 0), kit.DateOf(dayOf(begins, n.loc)), days,
		kit.DateOf(n.lastSendDay(begins, days))}, true
}

// invitationProblem says why invitations sent at sent would break §46(1);
// a zero Msg when they are in time.
func (n *noticeRules) invitationProblem(a *assemblyRow, sent time.Time) models.Msg {
	args, late := n.lateness(a.noticeFrom(), sent, n.noticeDays)
	if !late {
		return models.Msg{}
	}
	return models.Msgf("An invitation sent today counts as received on %s (%d day(s) after sending, by the bylaws), "+
		"leaving %d whole day(s) before the assembly begins on %s; at least %d are required (§46 GenG). "+
		"The last day to send it was %s: move the assembly to a later date.", args...)
}

// supplementProblem says why an item announced at sent would break §46(2);
// a zero Msg when it is in time.
func (n *noticeRules) supplementProblem(a *assemblyRow, sent time.Time) models.Msg {
	args, late := n.lateness(a.noticeFrom(), sent, supplementNoticeDays)
	if !late {
		return models.Msg{}
	}
	return models.Msgf("A supplementary notice sent today counts as received on %s (%d day(s) after sending, by the bylaws), "+
		"leaving %d whole day(s) before the assembly begins on %s; at least %d are required (§46 GenG). "+
		"The last day to send it was %s: move the assembly to a later date.", args...)
}

// formatIn writes a moment in the cooperative's time zone, naming it.
func formatIn(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04 MST") + " (" + loc.String() + ")"
}
