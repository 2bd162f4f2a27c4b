// Package moderation is the cooperative's moderation loop: reports from
// members and from outside (abuse desks), cases that gather the reports
// about one target, the panel of admins and moderators, sanctions on the
// graduated ladder the members decide (rulebook), their effects on VMs
// (jobs that throttle, pause and lock, reconciled), appeals decided by an
// elected body, and a quarterly report without personal data.
//
// Every state change is authorised here (roles are read inside the
// transaction), recorded in the audit log against the case, and its
// infrastructure effects are River jobs inserted in the same transaction.
package moderation

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/rulebook"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Categories of a report. External reporters choose among the first six;
// members may also report conduct.
const (
	CategorySpam      = "spam"
	CategoryMalware   = "malware"
	CategoryAttack    = "attack"
	CategoryCopyright = "copyright"
	CategoryIllegal   = "illegal"
	CategoryOther     = "other"
	CategoryConduct   = "conduct"
)

// ExternalCategories are the categories of the public abuse form, in order.
var ExternalCategories = []string{CategorySpam, CategoryMalware, CategoryAttack, CategoryCopyright, CategoryIllegal, CategoryOther}

// MemberCategories are those of a member's report.
var MemberCategories = append(append([]string{}, ExternalCategories...), CategoryConduct)

// SanctionTitle names a step of the ladder for people, in English (the
// message id of its translation).
func SanctionTitle(kind string) string {
	switch kind {
	case rulebook.SanctionWarning:
		return "warning"
	case rulebook.SanctionThrottle:
		return "throttled virtual machine"
	case rulebook.SanctionSuspendVM:
		return "suspended virtual machine"
	case rulebook.SanctionSuspendMember:
		return "suspended use of resources"
	case rulebook.SanctionExclusion:
		return "motion to exclude (to the board)"
	}
	return kind
}

// AppealOutcomeTitle names an appeal's state or outcome for people, in
// English (the message id of its translation).
func AppealOutcomeTitle(state string) string {
	switch state {
	case AppealPending:
		return "pending"
	case AppealUpheld:
		return "upheld"
	case AppealReduced:
		return "reduced"
	case AppealOverturned:
		return "overturned"
	}
	return state
}

// CategoryTitle names a category for people.
func CategoryTitle(c string) string {
	switch c {
	case CategorySpam:
		return "Spam"
	case CategoryMalware:
		return "Malware / botnet"
	case CategoryAttack:
		return "Attack / DDoS"
	case CategoryCopyright:
		return "Copyright"
	case CategoryIllegal:
		return "Illegal content"
	case CategoryConduct:
		return "Conduct in the portal"
	case CategoryOther:
		return "Something else"
	}
	return c
}

// Target kinds.
const (
	TargetVM       = "vm"
	TargetMember   = "member"
	TargetProposal = "proposal"
	TargetComment  = "comment"
)

// TargetKinds are what a member may report.
var TargetKinds = []string{TargetVM, TargetMember, TargetProposal, TargetComment}

// Limits of what a reporter sends.
const (
	MaxEvidence = 10000 // characters
	// ExternalPerHour is how many abuse reports one address may file in
	// an hour; counted in the database, so it holds across restarts and
	// portal instances.
	ExternalPerHour = 10
	// ExternalAttemptsPerHour is how many times one address (an IPv6
	// address: its /64) may submit the abuse form or endpoint in an hour,
	// invalid submissions included (abuse_rate.go).
	ExternalAttemptsPerHour = 30
)

// Committee tells who holds the office that decides appeals. The
// appointments of an elected body (models/membership's organs) satisfy it;
// a portal without one has no committee in office, and appeals wait.
type Committee interface {
	// InOffice reports, reading through tx, whether userID sits on the
	// appeals committee at t.
	InOffice(tx *gorm.DB, userID string, at time.Time) (bool, error)
}

// NoCommittee is the committee of a portal that has elected none.
type NoCommittee struct{}

func (NoCommittee) InOffice(*gorm.DB, string, time.Time) (bool, error) { return false, nil }

// Moderation is the domain service.
type Moderation struct {
	db        *models.DB
	queue     models.Queue
	clock     models.Clock
	committee Committee
}

// New wires the service; committee may be nil (no committee in office).
func New(db *models.DB, queue models.Queue, clock models.Clock, committee Committee) *Moderation {
	if committee == nil {
		committee = NoCommittee{}
	}
	return &Moderation{db: db, queue: queue, clock: clock, committee: committee}
}

// SetCommittee replaces the appeals body (web wires the elected one).
func (m *Moderation) SetCommittee(c Committee) { m.committee = c }

func (m *Moderation) now() time.Time { return m.clock.Now().UTC() }

// isStaffTx reports whether the user works the panel: admins and
// moderators.
func isStaffTx(tx *gorm.DB, userID string) (bool, error) {
	if userID == "" {
		return false, nil
	}
	var n int64
	if err := tx.Model(&account.UserRole{}).Where("user_id = ? AND role IN ?", userID,
		[]account.Role{account.RoleAdmin, account.RoleModerator}).Count(&n).Error; err != nil {
		return false, fmt.Errorf("check moderation role: %w", err)
	}
	return n > 0, nil
}

func requireStaffTx(tx *gorm.DB, a models.Actor) error {
	ok, err := isStaffTx(tx, a.UserID)
	if err != nil {
		return err
	}
	if !ok {
		return models.Forbidden("Only moderators and administrators may do this.")
	}
	return nil
}
