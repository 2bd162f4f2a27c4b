package membership

// Exclusion by the book (§68 GenG). An exclusion a court would void is
// worse than none, so the portal walks the steps in order and refuses to
// skip one:
//
//  1. The board opens proceedings: one of the reasons the bylaws list
//     (rule exclusion_reasons) and the facts that fulfil it.
//  2. The member is heard: they can answer in the portal (or the board
//     records an oral or written hearing) until the hearing deadline
//     (rule exclusion_hearing_days after opening).
//  3. The body the bylaws name (rule exclusion_body) decides — not before
//     the member was heard or the deadline passed.
//  4. The board records the day the registered letter went out. From that
//     day the member cannot attend the general assembly nor sit on the
//     board or the supervisory board (§68(2)); the status is "excluding".
//  5. The membership ends at the end of that business year (§68(1)), and
//     the refund of the capital follows from that date (§73).

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
)

// StatusExcluding: the exclusion letter went out; the membership runs to
// the end of the business year without the right to attend the assembly.
const StatusExcluding MembershipStatus = "excluding"

// Decisions on an exclusion.
const (
	DecisionExcluded  = "excluded"
	DecisionDismissed = "dismissed"
)

// Bodies that may decide an exclusion (rule exclusion_body).
const BodyBoard = "board"

// Exclusion is one set of proceedings against a member.
type Exclusion struct {
	ID                string     `json:"id"`
	MembershipID      string     `json:"membership_id"`
	Reason            string     `json:"reason"`
	Facts             string     `json:"facts"`
	Body              string     `json:"body"`
	OpenedBy          string     `json:"opened_by"`
	OpenedAt          time.Time  `json:"opened_at"`
	HearingDeadline   time.Time  `json:"hearing_deadline"`
	Statement         string     `json:"statement,omitempty"`
	StatementAt       *time.Time `json:"statement_at,omitempty"`
	StatementBy       string     `json:"statement_by,omitempty"`
	Decision          string     `json:"decision,omitempty"`
	DecidedOn         *time.Time `json:"decided_on,omitempty"`
	DecidedBy         string     `json:"decided_by,omitempty"`
	DecisionReference string     `json:"decision_reference,omitempty"`
	LetterSentOn      *time.Time `json:"letter_sent_on,omitempty"`
	LetterRecordedBy  string     `json:"letter_recorded_by,omitempty"`
	EffectiveOn       *time.Time `json:"effective_on,omitempty"`
	ClosedAt          *time.Time `json:"closed_at,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
}

// Stage names where the proceedings stand, for pages.
func (x *Exclusion) Stage() string {
	switch {
	case x.Decision == DecisionDismissed:
		return "dismissed"
	case x.ClosedAt != nil:
		return "membership ended"
	case x.LetterSentOn != nil:
		return "letter sent"
	case x.Decision == DecisionExcluded:
		return "decided: letter to send"
	}
	return "hearing"
}

// Heard reports whether the hearing is over on day: the member made a
// statement, or the deadline has passed.
func (x *Exclusion) Heard(day time.Time) bool {
	return x.StatementAt != nil || kit.DateOf(day).After(x.HearingDeadline)
}

// BodyTitle names a deciding body.
func BodyTitle(body string) string {
	switch body {
	case BodyBoard:
		return "the board"
	case BodySupervisoryBoard:
		return "the supervisory board"
	case BodyGeneralAssembly:
		return "the general assembly"
	}
	return body
}

// ExclusionInput opens proceedings.
type ExclusionInput struct {
	Reason string // one of the bylaws' reasons, verbatim
	Facts  string
}

// OpenExclusion starts proceedings against a member: the board names the
// reason and the facts, and the member is told and invited to be heard.
func (s *Memberships) OpenExclusion(ctx context.Context, actor models.Actor, membershipID string, in ExclusionInput) (*Exclusion, error) {
	in.Reason, in.Facts = strings.TrimSpace(in.Reason), strings.TrimSpace(in.Facts)
	var x *Exclusion
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := requireBoardTx(tx, actor, "Only the board can open exclusion proceedings."); err != nil {
			return err
		}
		p, err := rulebook.RulesAt(tx, s.now())
		if err != nil {
			return err
		}
		fields := map[string]string{}
		if !slices.Contains(p.Reasons(), in.Reason) {
			fields["reason"] = "Choose one of the reasons for an exclusion that the bylaws list."
		}
		kit.TextBlock(fields, "facts", in.Facts, "Describe the facts that fulfil the reason: what happened, and when.", 5000)
		if len(fields) > 0 {
			return models.Invalid(fields)
		}
		m, err := loadMembership(tx, membershipID, true)
		if err != nil {
			return err
		}
		if m.UserID == actor.UserID {
			return models.Forbidden("You cannot open proceedings against yourself.")
		}
		if m.Status != StatusMember && m.Status != StatusLeaving {
			return models.Conflict("Only members can be excluded.")
		}
		if open, err := openExclusion(tx, m.ID); err != nil {
			return err
		} else if open != nil {
			return models.Conflict("Exclusion proceedings against this member are already open.")
		}
		today := s.today()
		x = &Exclusion{ID: kit.NewID(), MembershipID: m.ID, Reason: in.Reason, Facts: in.Facts, Body: p.ExclusionBody,
			OpenedBy: recorder(actor), OpenedAt: s.now(), HearingDeadline: today.AddDate(0, 0, p.ExclusionHearingDays), CreatedAt: s.now()}
		if err := tx.Create(x).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("Exclusion proceedings against this member are already open.")
			}
			return fmt.Errorf("open exclusion: %w", err)
		}
		if err := kit.RecordAudit(tx, actor, "membership.exclusion_open", "membership", m.ID,
			map[string]any{"exclusion_id": x.ID, "reason": x.Reason, "hearing_deadline": kit.FormatDate(x.HearingDeadline), "body": x.Body}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail { return mailExclusionOpened(ctx, r, x) })
	})
	return x, err
}

// RecordStatement records the member's side. The member writes it in the
// portal until the deadline; a board member records a hearing held
// otherwise (oral, or a letter that arrived in time) until the decision.
func (s *Memberships) RecordStatement(ctx context.Context, actor models.Actor, exclusionID, statement string) error {
	statement = strings.TrimSpace(statement)
	fields := map[string]string{}
	kit.TextBlock(fields, "statement", statement, "Write the statement.", 10000)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		x, m, err := loadExclusion(tx, exclusionID)
		if err != nil {
			return err
		}
		own := m.UserID == actor.UserID
		if !own {
			if err := requireBoardTx(tx, actor, ""); err != nil {
				return models.NotFoundError("exclusion") // a member sees only their own
			}
		}
		switch {
		case x.Decision != "":
			return models.Conflict("The decision has been taken; the hearing is closed.")
		case x.StatementAt != nil:
			return models.Conflict("A statement has already been recorded.")
		case own && s.today().After(x.HearingDeadline):
			return models.Conflictf("The hearing ended on %s.", kit.DateOf(x.HearingDeadline))
		}
		res := tx.Model(&Exclusion{}).Where("id = ? AND statement_at IS NULL AND decision = ''", x.ID).
			Updates(map[string]any{"statement": statement, "statement_at": s.now(), "statement_by": recorder(actor)})
		if res.Error != nil {
			return fmt.Errorf("record statement: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return models.Conflict("A statement has already been recorded.")
		}
		return kit.RecordAudit(tx, actor, "membership.exclusion_statement", "membership", m.ID,
			map[string]any{"exclusion_id": x.ID, "by_member": own})
	})
}

// DecisionInput is the decision of the body the bylaws name.
type DecisionInput struct {
	Exclude   bool
	DecidedOn time.Time
	Reference string // the minutes of the meeting or the assembly's resolution
}

// DecideExclusion records the decision. A member of the deciding body
// records it; a decision of the general assembly is recorded by the board
// with the resolution as reference. The member must have been heard first.
func (s *Memberships) DecideExclusion(ctx context.Context, actor models.Actor, exclusionID string, in DecisionInput) error {
	in.Reference = strings.TrimSpace(in.Reference)
	fields := map[string]string{}
	if in.DecidedOn.IsZero() {
		fields["decided_on"] = "Enter the day of the decision."
	} else if kit.DateOf(in.DecidedOn).After(s.today()) {
		fields["decided_on"] = "The decision lies in the future."
	}
	if in.Reference != "" {
		kit.TextField(fields, "reference", in.Reference, "", 200)
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	day := kit.DateOf(in.DecidedOn)
	return s.tx(ctx, func(tx *gorm.DB) error {
		x, m, err := loadExclusion(tx, exclusionID)
		if err != nil {
			return err
		}
		if err := mayDecide(tx, actor, x.Body); err != nil {
			return err
		}
		if m.UserID == actor.UserID {
			return models.Forbidden("You cannot decide on your own exclusion.")
		}
		if x.Body == BodyGeneralAssembly && in.Reference == "" {
			return models.Invalid(map[string]string{"reference": "Name the general assembly's resolution."})
		}
		if x.Decision != "" {
			return models.Conflict("The decision has already been taken.")
		}
		if x.ClosedAt != nil || (m.Status != StatusMember && m.Status != StatusLeaving) {
			return models.Conflict("This membership has ended; there is nothing left to decide.")
		}
		// The hearing comes first: a decision before the member could
		// answer would void the exclusion.
		if !x.Heard(day) || (x.StatementAt != nil && day.Before(kit.DateOf(*x.StatementAt)) && !day.After(x.HearingDeadline)) {
			return models.Conflictf("The member has not been heard: the hearing runs until %s unless their statement is recorded first.", kit.DateOf(x.HearingDeadline))
		}
		if day.Before(kit.DateOf(x.OpenedAt)) {
			return models.Invalid(map[string]string{"decided_on": "The decision cannot precede the proceedings."})
		}
		decision := DecisionDismissed
		if in.Exclude {
			decision = DecisionExcluded
		}
		upd := map[string]any{"decision": decision, "decided_on": day, "decided_by": recorder(actor), "decision_reference": in.Reference}
		if !in.Exclude {
			upd["closed_at"] = s.now()
		}
		res := tx.Model(&Exclusion{}).Where("id = ? AND decision = ''", x.ID).Updates(upd)
		if res.Error != nil {
			return fmt.Errorf("record decision: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return models.Conflict("The decision has already been taken.")
		}
		if err := kit.RecordAudit(tx, actor, "membership.exclusion_decide", "membership", m.ID,
			map[string]any{"exclusion_id": x.ID, "decision": decision, "decided_on": kit.FormatDate(day), "body": x.Body, "reference": in.Reference}); err != nil {
			return err
		}
		x.Decision, x.DecidedOn = decision, &day
		if in.Exclude {
			return nil // the member learns it from the registered letter
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
			return mailExclusionDismissed(ctx, r, x)
		})
	})
}

// mayDecide: a member of the deciding body records its decision; the
// general assembly's is recorded by the board.
func mayDecide(tx *gorm.DB, actor models.Actor, body string) error {
	role := account.RoleBoard
	if body == BodySupervisoryBoard {
		role = account.RoleSupervisory
	}
	ok, err := account.UserHasRole(tx, actor.UserID, role)
	if err != nil {
		return err
	}
	if !ok {
		// One whole sentence per body, so that each translates as a whole.
		switch body {
		case BodySupervisoryBoard:
			return models.Forbidden("The bylaws give this decision to the supervisory board; only its members can record it.")
		case BodyGeneralAssembly:
			return models.Forbidden("The bylaws give this decision to the general assembly; the board records it.")
		}
		return models.Forbidden("The bylaws give this decision to the board; only its members can record it.")
	}
	return nil
}

// RecordExclusionLetter records the day the board sent the decision by
// registered letter. From that day the member loses attendance and any
// seat on an organ; the membership ends at the end of that business year.
func (s *Memberships) RecordExclusionLetter(ctx context.Context, actor models.Actor, exclusionID string, sentOn time.Time) error {
	if sentOn.IsZero() {
		return models.Invalid(map[string]string{"sent_on": "Enter the day the registered letter was sent."})
	}
	sentOn = kit.DateOf(sentOn)
	if sentOn.After(s.today()) {
		return models.Invalid(map[string]string{"sent_on": "Record the letter once it has been sent."})
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := requireBoardTx(tx, actor, "Only the board sends the exclusion letter (§68(2) GenG)."); err != nil {
			return err
		}
		x, m, err := loadExclusion(tx, exclusionID)
		if err != nil {
			return err
		}
		switch {
		case m.UserID == actor.UserID:
			return models.Forbidden("You cannot record the letter on your own exclusion.")
		case x.Decision != DecisionExcluded:
			return models.Conflict("There is no decision to exclude this member to send.")
		case x.LetterSentOn != nil:
			return models.Conflict("The letter has already been recorded.")
		case sentOn.Before(*x.DecidedOn):
			return models.Invalidf("sent_on", "The letter cannot precede the decision of %s.", kit.DateOf(*x.DecidedOn))
		}
		if m.Status != StatusMember && m.Status != StatusLeaving {
			return models.Conflict("This membership has already ended.")
		}
		p, err := rulebook.RulesAt(tx, sentOn)
		if err != nil {
			return err
		}
		effective := BusinessYearEnd(sentOn, p)
		res := tx.Model(&Exclusion{}).Where("id = ? AND letter_sent_on IS NULL", x.ID).
			Updates(map[string]any{"letter_sent_on": sentOn, "letter_recorded_by": recorder(actor), "effective_on": effective})
		if res.Error != nil {
			return fmt.Errorf("record letter: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return models.Conflict("The letter has already been recorded.")
		}
		x.LetterSentOn, x.EffectiveOn = &sentOn, &effective
		if err := s.setStatus(tx, m.ID, m.Status, StatusExcluding); err != nil {
			return err
		}
		// No seat from the day of sending: the last day in office is the day before.
		if err := endSeatsTx(tx, actor, m.UserID, sentOn.AddDate(0, 0, -1), EndExclusionLetter); err != nil {
			return err
		}
		if err := s.addEvent(tx, m.ID, EventExclusionLetter, sentOn, models.Msgf("excluded by decision of %s of %s (%s); letter sent, membership ends %s",
			models.Msg{Format: BodyTitle(x.Body)}, kit.DateOf(*x.DecidedOn), x.Reason, kit.DateOf(effective))); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.exclusion_letter", "membership", m.ID,
			map[string]any{"exclusion_id": x.ID, "sent_on": kit.FormatDate(sentOn), "effective_on": kit.FormatDate(effective)}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail { return mailExclusionLetter(ctx, r, x) })
	})
}

// ProcessDueExclusions ends the memberships whose exclusion took effect:
// the day after the business year's end, like notices. Each is its own
// transaction and claimed by a conditional update; the hourly job runs it.
func (s *Memberships) ProcessDueExclusions(ctx context.Context) (int, error) {
	var due []Exclusion
	err := s.db.Gorm.WithContext(ctx).Where("effective_on < ? AND closed_at IS NULL", s.today()).
		Order("effective_on, id").Find(&due).Error
	if err != nil {
		return 0, fmt.Errorf("find due exclusions: %w", err)
	}
	done := 0
	for _, x := range due {
		err := s.tx(ctx, func(tx *gorm.DB) error {
			ok, err := s.processExclusionTx(ctx, tx, x)
			if ok {
				done++
			}
			return err
		})
		if err != nil {
			return done, fmt.Errorf("process exclusion %s: %w", x.ID, err)
		}
	}
	return done, nil
}

func (s *Memberships) processExclusionTx(ctx context.Context, tx *gorm.DB, x Exclusion) (bool, error) {
	actor := models.SystemActor("exclusions")
	m, err := loadMembership(tx, x.MembershipID, true)
	if err != nil {
		return false, err
	}
	res := tx.Model(&Exclusion{}).Where("id = ? AND closed_at IS NULL", x.ID).Update("closed_at", s.now())
	if res.Error != nil {
		return false, fmt.Errorf("claim exclusion: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return false, nil
	}
	leftOn := *x.EffectiveOn
	refund, due, err := s.endMembershipTx(tx, actor, m, StatusExcluded, leftOn, "exclusion", models.Msgf("membership ended: exclusion"))
	if err != nil {
		return false, err
	}
	// Open notices are superseded by the exclusion.
	if err := tx.Model(&Notice{}).Where("membership_id = ? AND withdrawn_at IS NULL AND processed_at IS NULL", m.ID).
		Update("processed_at", s.now()).Error; err != nil {
		return false, fmt.Errorf("close notices of %s: %w", m.ID, err)
	}
	if err := s.addEvent(tx, m.ID, EventExcluded, leftOn, models.Msgf("membership ended by exclusion")); err != nil {
		return false, err
	}
	if err := kit.RecordAudit(tx, actor, "membership.exclude", "membership", m.ID,
		map[string]any{"exclusion_id": x.ID, "left_on": kit.FormatDate(leftOn), "refund_cents": refund}); err != nil {
		return false, err
	}
	return true, s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
		return mailExcluded(ctx, r, m, x.Reason, refund, due)
	})
}

func requireBoardTx(tx *gorm.DB, actor models.Actor, msg string) error {
	ok, err := account.UserHasRole(tx, actor.UserID, account.RoleBoard)
	if err != nil {
		return err
	}
	if !ok {
		return models.Forbidden(msg)
	}
	return nil
}

// loadExclusion reads proceedings and locks their membership.
func loadExclusion(tx *gorm.DB, id string) (*Exclusion, *Membership, error) {
	var x Exclusion
	if err := kit.First(tx, &x, id, "exclusion"); err != nil {
		return nil, nil, err
	}
	m, err := loadMembership(tx, x.MembershipID, true)
	if err != nil {
		return nil, nil, err
	}
	return &x, m, nil
}

// openExclusion is the membership's proceedings not yet closed, or nil.
func openExclusion(tx *gorm.DB, membershipID string) (*Exclusion, error) {
	var xs []Exclusion
	if err := tx.Where("membership_id = ? AND closed_at IS NULL", membershipID).Limit(1).Find(&xs).Error; err != nil {
		return nil, fmt.Errorf("load exclusion of %s: %w", membershipID, err)
	}
	if len(xs) == 0 {
		return nil, nil
	}
	return &xs[0], nil
}

// latestExclusion is the membership's most recent proceedings, or nil.
func latestExclusion(tx *gorm.DB, membershipID string) (*Exclusion, error) {
	var xs []Exclusion
	if err := tx.Where("membership_id = ?", membershipID).Order("created_at DESC, id DESC").Limit(1).Find(&xs).Error; err != nil {
		return nil, fmt.Errorf("load exclusion of %s: %w", membershipID, err)
	}
	if len(xs) == 0 {
		return nil, nil
	}
	return &xs[0], nil
}

// ExclusionDetail is the page of one set of proceedings.
type ExclusionDetail struct {
	Exclusion  Exclusion
	Membership Membership
	Today      time.Time
	Heard      bool // the hearing is over today
}

// Exclusion shows proceedings to the board and the supervisory board.
func (s *Memberships) Exclusion(ctx context.Context, v models.Viewer, id string) (*ExclusionDetail, error) {
	db := s.db.Gorm.WithContext(ctx)
	if err := requireOrganRole(db, v); err != nil {
		return nil, err
	}
	var x Exclusion
	if err := kit.First(db, &x, id, "exclusion"); err != nil {
		return nil, err
	}
	m, err := loadMembership(db, x.MembershipID, false)
	if err != nil {
		return nil, err
	}
	return &ExclusionDetail{Exclusion: x, Membership: *m, Today: s.today(), Heard: x.Heard(s.today())}, nil
}
