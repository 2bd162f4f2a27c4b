package membership

// The organs of the cooperative: the board (§24 GenG), the supervisory
// board (§36) and the appeals committee the moderation rules name. A seat
// is an appointment — an election at a general assembly or a decision of
// the body the bylaws name — for a term, and only a member in good standing
// holds one. The portal roles board, supervisory and appeals follow from
// the appointments: syncOrganRolesTx grants a role while an appointment is
// active and takes it away when the term ends (the hourly membership job),
// when the appointment ends early, and when the membership ends or an
// exclusion letter goes out. Roles are stored (user_roles) rather than
// computed on every request, so the signed-in user stays one query.
//
// An administrator's grant of the board role (`allmende user create --role
// board`) remains the way the first board of a new installation begins:
// someone has to admit the first members. Such a grant is marked "grant";
// an appointment of the same person takes it over, and the end of their
// membership removes it.

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

// Organ is a body of the cooperative whose members are appointed.
type Organ string

const (
	OrganBoard            Organ = "board"
	OrganSupervisoryBoard Organ = "supervisory_board"
	OrganAppealsCommittee Organ = "appeals_committee"
)

// Organs lists the organs in the order pages show them.
var AllOrgans = []Organ{OrganBoard, OrganSupervisoryBoard, OrganAppealsCommittee}

// ParseOrgan accepts only the known organs.
func ParseOrgan(s string) (Organ, bool) {
	o := Organ(strings.TrimSpace(s))
	return o, slices.Contains(AllOrgans, o)
}

// Role is the portal role a seat on the organ gives.
func (o Organ) Role() account.Role {
	switch o {
	case OrganBoard:
		return account.RoleBoard
	case OrganSupervisoryBoard:
		return account.RoleSupervisory
	}
	return account.RoleAppeals
}

// Title is the organ's name in pages and mails.
func (o Organ) Title() string {
	switch o {
	case OrganBoard:
		return "Board"
	case OrganSupervisoryBoard:
		return "Supervisory board"
	}
	return "Appeals committee"
}

// noun is the organ's name inside a sentence ("appointed to the board").
func (o Organ) noun() models.Msg {
	switch o {
	case OrganBoard:
		return models.Msgf("board")
	case OrganSupervisoryBoard:
		return models.Msgf("supervisory board")
	}
	return models.Msgf("appeals committee")
}

// incompatible says which organs one person may not sit on at once. §37(1)
// GenG: no one sits on the board and the supervisory board; the appeals
// committee reviews the board's sanctions, so board members stay off it.
var incompatible = map[Organ][]Organ{
	OrganBoard:            {OrganSupervisoryBoard, OrganAppealsCommittee},
	OrganSupervisoryBoard: {OrganBoard},
	OrganAppealsCommittee: {OrganBoard},
}

// How an appointment came about.
const (
	SourceElection = "election" // at a general assembly
	SourceDecision = "decision" // a decision of a body (e.g. the supervisory board appoints the board)
)

// Bodies that appoint.
const (
	BodyGeneralAssembly  = "general_assembly"
	BodySupervisoryBoard = "supervisory_board"
)

// appointingBodies: who may fill a seat. The general assembly elects the
// board unless the bylaws let the supervisory board appoint it (§24(2)
// GenG); the supervisory board is always elected by the assembly (§36(1)).
var appointingBodies = map[Organ][]string{
	OrganBoard:            {BodyGeneralAssembly, BodySupervisoryBoard},
	OrganSupervisoryBoard: {BodyGeneralAssembly},
	OrganAppealsCommittee: {BodyGeneralAssembly, BodySupervisoryBoard},
}

// Reasons an appointment ends before its term.
const (
	EndResigned         = "resigned"
	EndRecalled         = "recalled"
	EndMembershipEnded  = "membership_ended"
	EndExclusionLetter  = "exclusion_letter"
	EndSupervisoryBoard = "suspended_by_supervisory_board" // §40 GenG
)

// Appointment is one person's seat on an organ for a term.
type Appointment struct {
	ID           string     `json:"id"`
	Organ        Organ      `json:"organ"`
	UserID       string     `json:"user_id"`
	MembershipID string     `json:"membership_id"`
	TermStart    time.Time  `json:"term_start"` // first day in office
	TermEnd      time.Time  `json:"term_end"`   // last day in office
	Source       string     `json:"source"`
	Body         string     `json:"body"`
	AssemblyID   string     `json:"assembly_id,omitempty"`
	ItemID       string     `json:"item_id,omitempty"`
	DecidedOn    time.Time  `json:"decided_on"`
	Reference    string     `json:"reference,omitempty"`
	RecordedBy   string     `json:"recorded_by"`
	RecordedAt   time.Time  `json:"recorded_at"`
	EndedOn      *time.Time `json:"ended_on,omitempty"`   // last day in office when it ended early
	EndReason    string     `json:"end_reason,omitempty"` // one of the End… codes; EndReasonMsg says it
	EndedBy      string     `json:"ended_by,omitempty"`
	Name         string     `json:"name" gorm:"->"` // the appointee's account name, joined
}

// EndReasonMsg says why the seat ended early, for the pages to show in the
// reader's language; zero while it has not. The column keeps a code, not a
// sentence, so it needs no stored message (unlike a sanction's end reason);
// a code this version does not know is shown as stored.
func (a *Appointment) EndReasonMsg() models.Msg {
	switch a.EndReason {
	case "":
		return models.Msg{}
	case EndResigned:
		return models.Msgf("resigned")
	case EndRecalled:
		return models.Msgf("recalled by the assembly")
	case EndMembershipEnded:
		return models.Msgf("membership ended")
	case EndExclusionLetter:
		return models.Msgf("excluded from the cooperative")
	case EndSupervisoryBoard:
		return models.Msgf("suspended by the supervisory board")
	}
	return models.Verbatim(a.EndReason)
}

// LastDay is the last day in office: the end of the term or an earlier end.
func (a *Appointment) LastDay() time.Time {
	if a.EndedOn != nil && a.EndedOn.Before(a.TermEnd) {
		return *a.EndedOn
	}
	return a.TermEnd
}

// ActiveOn reports whether the appointee holds the seat on day.
func (a *Appointment) ActiveOn(day time.Time) bool {
	day = kit.DateOf(day)
	return !a.TermStart.After(day) && !a.LastDay().Before(day)
}

// AppointInput records an appointment.
type AppointInput struct {
	Organ     Organ
	UserID    string // the appointee's account
	TermStart time.Time
	TermEnd   time.Time
	Source    string // SourceElection or SourceDecision
	Body      string // the deciding body; an election's is the general assembly
	// An election in the portal names its assembly and agenda item; one
	// held elsewhere (the founding assembly) names its minutes in Reference.
	AssemblyID string
	ItemID     string
	DecidedOn  time.Time // zero: today
	Reference  string
}

// Organs fills and empties the seats of the cooperative's organs. Other
// domains use it: the assembly turns an election result into an
// appointment (AppointTx in its own transaction), moderation asks who sits
// on the appeals committee (Active, HoldsTx).
type Organs struct{ s *Memberships }

// Organs returns the organ service of the membership domain.
func (s *Memberships) Organs() *Organs { return &Organs{s: s} }

// Appoint records an appointment in its own transaction.
func (o *Organs) Appoint(ctx context.Context, actor models.Actor, in AppointInput) (*Appointment, error) {
	var a *Appointment
	err := o.s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		a, err = o.AppointTx(ctx, tx, actor, in)
		return err
	})
	return a, err
}

// AppointTx records an appointment inside the caller's transaction and
// grants the organ's role if the term has begun. The caller must drop the
// signed-in user cache after the commit (account.ForgetSignedInUsers), as
// Appoint does.
func (o *Organs) AppointTx(ctx context.Context, tx *gorm.DB, actor models.Actor, in AppointInput) (*Appointment, error) {
	s := o.s
	today := s.today()
	if in.DecidedOn.IsZero() {
		in.DecidedOn = today
	}
	if in.Source == SourceElection && in.Body == "" {
		in.Body = BodyGeneralAssembly
	}
	if err := in.validate(today); err != nil {
		return nil, err
	}
	if err := mayRecord(tx, actor, in.Body); err != nil {
		return nil, err
	}
	m, err := latestMembership(tx, in.UserID, true)
	if models.IsNotFound(err) {
		return nil, models.Invalid(map[string]string{"user": "Only members can be appointed; this account has no membership."})
	} else if err != nil {
		return nil, err
	}
	if !inGoodStanding(m.Status) {
		return nil, models.Invalid(map[string]string{"user": "Only members in good standing can be appointed."})
	}
	if in.Organ == OrganSupervisoryBoard || in.Body == BodySupervisoryBoard {
		if has, n, err := supervisoryBoardExists(tx, s.now()); err != nil {
			return nil, err
		} else if !has {
			return nil, models.Conflictf("The bylaws do without a supervisory board and the cooperative has %d members (at most 20 may do without one, §9(1) GenG).", n)
		}
	}
	if err := checkSeatConflicts(tx, in); err != nil {
		return nil, err
	}
	a := &Appointment{ID: kit.NewID(), Organ: in.Organ, UserID: in.UserID, MembershipID: m.ID,
		TermStart: kit.DateOf(in.TermStart), TermEnd: kit.DateOf(in.TermEnd), Source: in.Source, Body: in.Body,
		AssemblyID: in.AssemblyID, ItemID: in.ItemID, DecidedOn: kit.DateOf(in.DecidedOn), Reference: in.Reference,
		RecordedBy: recorder(actor), RecordedAt: s.now()}
	if err := tx.Omit("Name").Create(a).Error; err != nil {
		return nil, fmt.Errorf("insert appointment: %w", err)
	}
	if err := kit.RecordAudit(tx, actor, "organ.appoint", "user", a.UserID, map[string]any{
		"appointment_id": a.ID, "organ": a.Organ, "term_start": kit.FormatDate(a.TermStart), "term_end": kit.FormatDate(a.TermEnd),
		"source": a.Source, "body": a.Body, "assembly_id": a.AssemblyID, "item_id": a.ItemID, "reference": a.Reference}); err != nil {
		return nil, err
	}
	if _, err := syncOrganRolesTx(tx, actor, a.UserID, today); err != nil {
		return nil, err
	}
	if err := s.addEvent(tx, m.ID, EventAppointed, a.DecidedOn, models.Msgf("appointed to the %s from %s to %s",
		a.Organ.noun(), kit.DateOf(a.TermStart), kit.DateOf(a.TermEnd))); err != nil {
		return nil, err
	}
	if err := s.mailUser(ctx, tx, a.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail { return mailAppointed(ctx, r, a) }); err != nil {
		return nil, err
	}
	return a, nil
}

func (in *AppointInput) validate(today time.Time) error {
	in.Reference, in.AssemblyID, in.ItemID = strings.TrimSpace(in.Reference), strings.TrimSpace(in.AssemblyID), strings.TrimSpace(in.ItemID)
	fields := map[string]string{}
	if !slices.Contains(AllOrgans, in.Organ) {
		fields["organ"] = "Choose the board, the supervisory board or the appeals committee."
	}
	if in.UserID == "" {
		fields["user"] = "Choose the member who is appointed."
	}
	switch in.Source {
	case SourceElection:
		if in.Body != BodyGeneralAssembly {
			fields["body"] = "Elections are held by the general assembly."
		}
		if in.AssemblyID == "" && in.Reference == "" {
			fields["reference"] = "Name the assembly (or its minutes) that held the election."
		}
	case SourceDecision:
		if in.Body == BodyGeneralAssembly {
			fields["source"] = "A decision of the general assembly on a seat is an election."
		} else if bodies := appointingBodies[in.Organ]; !slices.Contains(bodies, in.Body) {
			fields["body"] = "This body cannot appoint to this organ."
		}
	default:
		fields["source"] = "Choose an election or a decision of a body."
	}
	if in.Reference != "" {
		kit.TextField(fields, "reference", in.Reference, "", 200)
	}
	kit.NoControl(fields, "assembly_id", in.AssemblyID+in.ItemID, false)
	switch {
	case in.TermStart.IsZero():
		fields["term_start"] = "Enter the first day of the term."
	case in.TermEnd.IsZero():
		fields["term_end"] = "Enter the last day of the term."
	case in.TermEnd.Before(in.TermStart):
		fields["term_end"] = "The term cannot end before it starts."
	case kit.DateOf(in.TermEnd).Before(today):
		fields["term_end"] = "This term is already over."
	case in.TermEnd.After(kit.AddMonths(in.TermStart, 12*6)):
		fields["term_end"] = "A term lasts at most six years."
	}
	switch {
	case kit.DateOf(in.DecidedOn).After(today):
		fields["decided_on"] = "The decision lies in the future."
	case !in.TermStart.IsZero() && kit.DateOf(in.TermStart).Before(kit.DateOf(in.DecidedOn)):
		fields["term_start"] = "The term cannot start before the decision."
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return nil
}

// mayRecord: an election result is entered by the board (which keeps the
// register); a decision of the supervisory board by one of its members;
// jobs and the command line as the system.
func mayRecord(tx *gorm.DB, actor models.Actor, body string) error {
	if isSystem(actor) {
		return nil
	}
	role, msg := account.RoleBoard, "Only the board can record the result of an election."
	if body == BodySupervisoryBoard {
		role, msg = account.RoleSupervisory, "Only members of the supervisory board can record its decisions."
	}
	ok, err := account.UserHasRole(tx, actor.UserID, role)
	if err != nil {
		return err
	}
	if !ok {
		return models.Forbidden(msg)
	}
	return nil
}

func isSystem(a models.Actor) bool { return a.UserID == "" && strings.HasPrefix(a.Email, "system:") }

func recorder(a models.Actor) string {
	if a.UserID != "" {
		return a.UserID
	}
	return a.Email
}

// inGoodStanding: admitted and not excluded. A member under notice keeps
// their rights (and seats) until the membership ends.
func inGoodStanding(st MembershipStatus) bool { return st == StatusMember || st == StatusLeaving }

// checkSeatConflicts refuses a second seat on the same organ and a seat on
// an incompatible one while the terms overlap.
func checkSeatConflicts(tx *gorm.DB, in AppointInput) error {
	var held []Appointment
	if err := tx.Where("user_id = ? AND term_start <= ? AND term_end >= ? AND (ended_on IS NULL OR ended_on >= ?)",
		in.UserID, kit.DateOf(in.TermEnd), kit.DateOf(in.TermStart), kit.DateOf(in.TermStart)).Find(&held).Error; err != nil {
		return fmt.Errorf("load seats of %s: %w", in.UserID, err)
	}
	for _, h := range held {
		if h.LastDay().Before(kit.DateOf(in.TermStart)) || h.EndedOn != nil && h.EndedOn.Before(h.TermStart) {
			continue // ended before the new term starts, or never began
		}
		if h.Organ == in.Organ {
			return models.Conflictf("This member already sits on the %s until %s.", h.Organ.noun(), kit.DateOf(h.LastDay()))
		}
		if slices.Contains(incompatible[in.Organ], h.Organ) {
			return models.Conflictf("This member sits on the %s until %s; a seat on the %s is incompatible with it (§37 GenG).",
				h.Organ.noun(), kit.DateOf(h.LastDay()), in.Organ.noun())
		}
	}
	return nil
}

// supervisoryBoardExists: the bylaws keep a supervisory board, or the
// cooperative has grown beyond the 20 members that may do without one.
func supervisoryBoardExists(tx *gorm.DB, now time.Time) (bool, int64, error) {
	p, err := rulebook.RulesAt(tx, now)
	if err != nil {
		return false, 0, err
	}
	var n int64
	if err := tx.Model(&Membership{}).Where("status IN ?", memberStatuses).Count(&n).Error; err != nil {
		return false, 0, fmt.Errorf("count members: %w", err)
	}
	return p.SupervisoryBoard || n > 20, n, nil
}

// memberStatuses: admitted and not yet gone, whatever their standing.
var memberStatuses = []MembershipStatus{StatusMember, StatusLeaving, StatusExcluding}

// EndAppointment ends a seat before its term: a resignation, a recall by
// the general assembly (§24(3), §36(3) GenG) or a suspension. lastDay is the
// last day in office. The board or the supervisory board records it.
func (o *Organs) EndAppointment(ctx context.Context, actor models.Actor, id string, lastDay time.Time, reason string) error {
	s := o.s
	switch reason {
	case EndResigned, EndRecalled, EndSupervisoryBoard:
	default:
		return models.Invalid(map[string]string{"reason": "Choose why the appointment ends."})
	}
	if lastDay.IsZero() {
		return models.Invalid(map[string]string{"last_day": "Enter the last day in office."})
	}
	lastDay = kit.DateOf(lastDay)
	return s.tx(ctx, func(tx *gorm.DB) error {
		if !isSystem(actor) {
			board, err := account.UserHasRole(tx, actor.UserID, account.RoleBoard)
			if err != nil {
				return err
			}
			sup, err := account.UserHasRole(tx, actor.UserID, account.RoleSupervisory)
			if err != nil {
				return err
			}
			if !board && !sup {
				return models.Forbidden("Only the board or the supervisory board can record the end of an appointment.")
			}
		}
		var a Appointment
		if err := kit.First(tx.Omit("Name"), &a, id, "appointment"); err != nil {
			return err
		}
		if a.EndedOn != nil || a.TermEnd.Before(s.today()) {
			return models.Conflict("This appointment has already ended.")
		}
		if lastDay.After(a.TermEnd) || lastDay.Before(a.TermStart.AddDate(0, 0, -1)) {
			return models.Invalidf("last_day", "Enter a day from %s to %s.", kit.DateOf(a.TermStart.AddDate(0, 0, -1)), kit.DateOf(a.TermEnd))
		}
		res := tx.Model(&Appointment{}).Where("id = ? AND ended_on IS NULL", a.ID).
			Updates(map[string]any{"ended_on": lastDay, "end_reason": reason, "ended_by": recorder(actor)})
		if res.Error != nil {
			return fmt.Errorf("end appointment %s: %w", a.ID, res.Error)
		}
		if res.RowsAffected != 1 {
			return models.Conflict("This appointment has already ended.")
		}
		if err := kit.RecordAudit(tx, actor, "organ.end", "user", a.UserID, map[string]any{
			"appointment_id": a.ID, "organ": a.Organ, "last_day": kit.FormatDate(lastDay), "reason": reason}); err != nil {
			return err
		}
		_, err := syncOrganRolesTx(tx, actor, a.UserID, s.today())
		return err
	})
}

// endSeatsTx ends every seat of userID after lastDay, whatever the term
// says, and takes the organ roles away even when an administrator granted
// them: the membership ends, or an exclusion letter went out (§68(2) GenG).
func endSeatsTx(tx *gorm.DB, actor models.Actor, userID string, lastDay time.Time, reason string) error {
	var open []Appointment
	if err := tx.Omit("Name").Where("user_id = ? AND ended_on IS NULL AND term_end > ?", userID, lastDay).Find(&open).Error; err != nil {
		return fmt.Errorf("load seats of %s: %w", userID, err)
	}
	for _, a := range open {
		if err := tx.Model(&Appointment{}).Where("id = ?", a.ID).
			Updates(map[string]any{"ended_on": lastDay, "end_reason": reason, "ended_by": recorder(actor)}).Error; err != nil {
			return fmt.Errorf("end appointment %s: %w", a.ID, err)
		}
		if err := kit.RecordAudit(tx, actor, "organ.end", "user", userID, map[string]any{
			"appointment_id": a.ID, "organ": a.Organ, "last_day": kit.FormatDate(lastDay), "reason": reason}); err != nil {
			return err
		}
	}
	for _, o := range AllOrgans {
		if err := account.RevokeRoleTx(tx, actor, userID, o.Role()); err != nil {
			return err
		}
	}
	return nil
}

// syncOrganRolesTx makes the organ roles of userID match the appointments
// active on today. It reports whether a role changed.
func syncOrganRolesTx(tx *gorm.DB, actor models.Actor, userID string, today time.Time) (bool, error) {
	standing := false
	m, err := latestMembership(tx, userID, false)
	switch {
	case err == nil:
		standing = inGoodStanding(m.Status)
	case !models.IsNotFound(err):
		return false, err
	}
	var seats []Appointment
	if err := tx.Omit("Name").Where("user_id = ? AND term_start <= ? AND term_end >= ? AND (ended_on IS NULL OR ended_on >= ?)",
		userID, today, today, today).Find(&seats).Error; err != nil {
		return false, fmt.Errorf("load seats of %s: %w", userID, err)
	}
	changed := false
	for _, o := range AllOrgans {
		want := standing && slices.ContainsFunc(seats, func(a Appointment) bool { return a.Organ == o })
		c, err := account.SyncAppointedRoleTx(tx, actor, userID, o.Role(), want, time.Now().UTC())
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}

// SyncOrganRoles brings every appointee's roles in line with the terms in
// force today: a term that began grants its role, one that ended takes it.
// The hourly membership job runs it; each person is one transaction, and a
// second run changes nothing.
func (s *Memberships) SyncOrganRoles(ctx context.Context) (int, error) {
	var users []string
	err := s.db.Gorm.WithContext(ctx).Raw(`SELECT user_id FROM appointments
		UNION SELECT user_id FROM user_roles WHERE source = ?`, account.RoleSourceAppointment).Scan(&users).Error
	if err != nil {
		return 0, fmt.Errorf("find appointees: %w", err)
	}
	actor := models.SystemActor("organs")
	changed := 0
	for _, u := range users {
		err := s.tx(ctx, func(tx *gorm.DB) error {
			c, err := syncOrganRolesTx(tx, actor, u, s.today())
			if c {
				changed++
			}
			return err
		})
		if err != nil {
			return changed, fmt.Errorf("sync roles of %s: %w", u, err)
		}
	}
	return changed, nil
}

// Active lists who sits on organ today, by name.
func (o *Organs) Active(ctx context.Context, organ Organ) ([]Appointment, error) {
	return activeSeats(o.s.db.Gorm.WithContext(ctx), organ, o.s.today())
}

func activeSeats(tx *gorm.DB, organ Organ, day time.Time) ([]Appointment, error) {
	var out []Appointment
	err := appointmentRows(tx).Where("a.organ = ? AND a.term_start <= ? AND a.term_end >= ? AND (a.ended_on IS NULL OR a.ended_on >= ?)",
		organ, day, day, day).Order("u.name, a.id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list seats of %s: %w", organ, err)
	}
	return out, nil
}

func appointmentRows(tx *gorm.DB) *gorm.DB {
	return tx.Table("appointments AS a").Select("a.*, u.name AS name").Joins("JOIN users u ON u.id = a.user_id")
}

// HoldsTx reports whether userID sits on organ today, inside tx.
func (o *Organs) HoldsTx(tx *gorm.DB, userID string, organ Organ) (bool, error) {
	seats, err := activeSeats(tx.Where("a.user_id = ?", userID), organ, o.s.today())
	return len(seats) > 0, err
}

// OrgansOverview is the organs page: who sits where, past and future
// terms, and whether the cooperative needs a supervisory board.
type OrgansOverview struct {
	Seats                map[Organ][]Appointment // active today
	Other                []Appointment           // future, ended, expired: newest first
	Granted              []account.User          // hold the board role by an administrator's grant only
	SupervisoryBoard     bool                    // the cooperative has (and needs) one
	SupervisoryRequired  bool                    // more than 20 members: the bylaws cannot drop it
	Members              int64
	Today                time.Time
	AppointableMembers   []Membership // members in good standing, for the form
	AppointingBodies     map[Organ][]string
	IncompatibleWithSeat map[Organ][]Organ
	// Exclusions are the open proceedings, so that the body deciding them
	// (the supervisory board, where the bylaws say so) finds them.
	Exclusions []OpenExclusionLine
}

// OpenExclusionLine is an open exclusion on the organs page.
type OpenExclusionLine struct {
	ID              string
	Name            string
	Body            string
	HearingDeadline time.Time
	Stage           string
}

// Overview lists the organs for the board and the supervisory board.
func (o *Organs) Overview(ctx context.Context, v models.Viewer) (*OrgansOverview, error) {
	db := o.s.db.Gorm.WithContext(ctx)
	if err := requireOrganRole(db, v); err != nil {
		return nil, err
	}
	today := o.s.today()
	has, n, err := supervisoryBoardExists(db, o.s.now())
	if err != nil {
		return nil, err
	}
	ov := &OrgansOverview{Seats: map[Organ][]Appointment{}, SupervisoryBoard: has, SupervisoryRequired: n > 20, Members: n,
		Today: today, AppointingBodies: appointingBodies, IncompatibleWithSeat: incompatible}
	var all []Appointment
	if err := appointmentRows(db).Order("a.term_start DESC, a.id").Scan(&all).Error; err != nil {
		return nil, fmt.Errorf("list appointments: %w", err)
	}
	for _, a := range all {
		if a.ActiveOn(today) {
			ov.Seats[a.Organ] = append(ov.Seats[a.Organ], a)
		} else {
			ov.Other = append(ov.Other, a)
		}
	}
	if err := db.Table("users u").Select("u.id, u.name, u.email").Joins("JOIN user_roles r ON r.user_id = u.id").
		Where("r.role = ? AND r.source = ?", account.RoleBoard, account.RoleSourceGrant).Order("u.name").Scan(&ov.Granted).Error; err != nil {
		return nil, fmt.Errorf("list granted board roles: %w", err)
	}
	if err := db.Where("status IN ?", []MembershipStatus{StatusMember, StatusLeaving}).Order("member_number").Find(&ov.AppointableMembers).Error; err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	var xs []Exclusion
	if err := db.Where("closed_at IS NULL").Order("opened_at, id").Find(&xs).Error; err != nil {
		return nil, fmt.Errorf("list open exclusions: %w", err)
	}
	for _, x := range xs {
		m, err := loadMembership(db, x.MembershipID, false)
		if err != nil {
			return nil, err
		}
		ov.Exclusions = append(ov.Exclusions, OpenExclusionLine{ID: x.ID, Name: m.DisplayName(), Body: x.Body, HearingDeadline: x.HearingDeadline, Stage: x.Stage()})
	}
	return ov, nil
}

// requireOrganRole: the organs page is for the board and the supervisory
// board (admins run hosts, not the cooperative's bodies).
func requireOrganRole(tx *gorm.DB, v models.Viewer) error {
	for _, r := range []account.Role{account.RoleBoard, account.RoleSupervisory} {
		ok, err := account.UserHasRole(tx, v.UserID, r)
		if err != nil || ok {
			return err
		}
	}
	return models.Forbidden("Only the board and the supervisory board can see this page.")
}
