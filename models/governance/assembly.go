package governance

import (
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/membership"
	"allmende/models/rulebook"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

type assemblyRow struct {
	ID              string
	Title           string
	Description     string
	Form            string
	Status          string
	DiscussionStart *time.Time
	DiscussionEnd   *time.Time
	VotingStart     time.Time
	VotingEnd       time.Time
	InvitedAt       *time.Time
	OpenedAt        *time.Time
	ClosedAt        *time.Time
	ResultFile      string
	ResultHash      string
	CreatedBy       string
	CreatedAt       time.Time
	Place           string
	AccessDetails   string
	DiscussionForm  string
	TimeZone        string
	ChairID         *string
	ChairLocation   string
	DemandID        *string
	SecondNoticeAt  *time.Time
	InvitationText  string
	MinutesText     string
	MinutesHash     string
	MinutesSignedAt *time.Time
}

func (assemblyRow) TableName() string { return "assemblies" }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r *assemblyRow) assembly() Assembly {
	a := Assembly{ID: r.ID, Title: r.Title, Description: r.Description, Form: r.Form, Status: r.Status,
		VotingStart: r.VotingStart.UTC(), VotingEnd: r.VotingEnd.UTC(),
		InvitedAt: utcPtr(r.InvitedAt), OpenedAt: utcPtr(r.OpenedAt), ClosedAt: utcPtr(r.ClosedAt),
		ResultHash: r.ResultHash, CreatedAt: r.CreatedAt.UTC(),
		Place: r.Place, AccessDetails: r.AccessDetails, DiscussionForm: r.DiscussionForm, TimeZone: r.TimeZone,
		ChairLocation: r.ChairLocation, SecondNoticeAt: utcPtr(r.SecondNoticeAt), InvitationText: r.InvitationText,
		MinutesHash: r.MinutesHash, MinutesSignedAt: utcPtr(r.MinutesSignedAt)}
	if r.ChairID != nil {
		a.ChairID = *r.ChairID
	}
	if r.DemandID != nil {
		a.DemandID = *r.DemandID
	}
	if r.DiscussionStart != nil {
		a.DiscussionStart = r.DiscussionStart.UTC()
	}
	if r.DiscussionEnd != nil {
		a.DiscussionEnd = r.DiscussionEnd.UTC()
	}
	return a
}

// noticeFrom is the moment the notice period runs to: the start of voting,
// or of the discussion if it comes first, which is part of the assembly
// (§43b(1) no. 2 GenG for two phases).
func (r *assemblyRow) noticeFrom() time.Time {
	if r.DiscussionStart != nil && r.DiscussionStart.Before(r.VotingStart) {
		return *r.DiscussionStart
	}
	return r.VotingStart
}

type itemRow struct {
	ID             string
	AssemblyID     string
	Position       int
	Title          string
	Description    string
	Kind           string
	ProposalID     *string
	Secret         bool
	MajorityNum    int
	MajorityDen    int
	Quorum         int
	Seats          int
	Demanded       bool
	Discharge      string
	S67a           string
	Annual         string
	ElectionMethod string
	Declaration    string
	MotionID       *string
	Organ          string
	AppointedAt    *time.Time
	ClosedAt       *time.Time
	RoundResult    string
	RunoffOf       *string
	VotingStart    *time.Time
	VotingEnd      *time.Time
}

func (itemRow) TableName() string { return "agenda_items" }

type candidateRow struct {
	ID       string
	ItemID   string
	Position int
	Name     string
	UserID   *string
}

func (candidateRow) TableName() string { return "item_candidates" }

type exclusionRow struct {
	ItemID string
	UserID string
}

func (exclusionRow) TableName() string { return "item_exclusions" }

type proxyRow struct {
	ID           string
	AssemblyID   string
	GrantorID    string
	ProxyID      string
	Declaration  string
	CreatedAt    time.Time
	RevokedAt    *time.Time
	Relationship string
}

func (proxyRow) TableName() string { return "proxies" }

// loadAssembly reads an assembly; with lock it holds the row (PostgreSQL;
// SQLite has one writer anyway). Changes of phase take it FOR UPDATE and
// ballots FOR SHARE, so no ballot slips in beside the opening or closing.
func loadAssembly(tx *gorm.DB, id string, lock bool) (*assemblyRow, error) {
	var a assemblyRow
	q := tx
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	err := q.First(&a, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, models.NotFoundError("assembly")
	}
	if err != nil {
		return nil, fmt.Errorf("load assembly %s: %w", id, err)
	}
	return &a, nil
}

var assemblyForms = []string{FormInPerson, FormVirtual, FormHybrid, FormTwoPhase}

func (in *AssemblyInput) validate(now time.Time) map[string]string {
	fields := map[string]string{}
	kit.TextField(fields, "title", in.Title, "Give the assembly a title.", 200)
	if kit.UTF8Len(in.Description) > 20000 {
		fields["description"] = "This is too long (at most 20000 characters)."
	}
	kit.NoControl(fields, "description", in.Description, true)
	if !slices.Contains(assemblyForms, in.Form) {
		fields["form"] = "Choose in person, virtual, hybrid or two phases."
	}
	// What the invitation must say (§46(1), §43b GenG).
	if in.Form == FormInPerson || in.Form == FormHybrid {
		kit.TextField(fields, "place", in.Place, "Enter the place of the assembly (address and room).", 500)
	} else if in.Place != "" {
		kit.TextField(fields, "place", in.Place, "", 500)
	}
	if in.Form == FormVirtual || in.Form == FormHybrid || in.Form == FormTwoPhase {
		kit.TextBlock(fields, "access_details", in.AccessDetails, "Say how members take part online: the address and how they sign in.", 2000)
	}
	if in.Form == FormTwoPhase {
		kit.TextBlock(fields, "discussion_form", in.DiscussionForm, "Describe how the discussion phase runs (where members speak, make motions and ask questions).", 2000)
	}
	switch {
	case in.VotingStart.IsZero():
		fields["voting_start"] = "Enter when voting starts."
	case in.VotingEnd.IsZero():
		fields["voting_end"] = "Enter when voting ends."
	case !in.VotingEnd.After(in.VotingStart):
		fields["voting_end"] = "Voting must end after it starts."
	case !in.VotingEnd.After(now):
		fields["voting_end"] = "Voting must end in the future."
	}
	hasDiscussion := !in.DiscussionStart.IsZero() || !in.DiscussionEnd.IsZero()
	switch {
	case in.Form == FormTwoPhase && in.DiscussionStart.IsZero():
		// §43b(1) no. 2 GenG: the discussion comes first, then the vote.
		fields["discussion_start"] = "A two-phase assembly begins with a discussion; enter when it starts."
	case in.Form == FormTwoPhase && in.DiscussionEnd.IsZero():
		fields["discussion_end"] = "Enter when the discussion ends."
	case hasDiscussion && (in.DiscussionStart.IsZero() || in.DiscussionEnd.IsZero()):
		fields["discussion_end"] = "Enter both the start and the end of the discussion, or neither."
	case hasDiscussion && !in.DiscussionEnd.After(in.DiscussionStart):
		fields["discussion_end"] = "The discussion must end after it starts."
	case hasDiscussion && in.Form == FormTwoPhase && in.DiscussionEnd.After(in.VotingStart):
		fields["discussion_end"] = "In a two-phase assembly the discussion ends before voting starts."
	}
	return fields
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateAssembly plans a general assembly; the board convenes it (§44 GenG).
func (g *Governance) CreateAssembly(ctx context.Context, actor models.Actor, v models.Viewer, in AssemblyInput) (*Assembly, error) {
	in.Title, in.Description, in.Form = strings.TrimSpace(in.Title), strings.TrimSpace(in.Description), strings.TrimSpace(in.Form)
	in.Place, in.AccessDetails, in.DiscussionForm = strings.TrimSpace(in.Place), strings.TrimSpace(in.AccessDetails), strings.TrimSpace(in.DiscussionForm)
	in.DemandID = strings.TrimSpace(in.DemandID)
	var out Assembly
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board can convene a general assembly."); err != nil {
			return err
		}
		if fields := in.validate(g.now()); len(fields) > 0 {
			return models.Invalid(fields)
		}
		row := assemblyRow{ID: kit.NewID(), Title: in.Title, Description: in.Description, Form: in.Form, Status: AssemblyPlanned,
			DiscussionStart: optionalTime(in.DiscussionStart), DiscussionEnd: optionalTime(in.DiscussionEnd),
			VotingStart: in.VotingStart.UTC(), VotingEnd: in.VotingEnd.UTC(), CreatedBy: v.UserID, CreatedAt: g.now(),
			Place: in.Place, AccessDetails: in.AccessDetails, DiscussionForm: in.DiscussionForm}
		loc, err := g.location(tx)
		if err != nil {
			return err
		}
		row.TimeZone = loc.String() // the pages show its times in it; the invitation fixes it again
		if in.DemandID != "" {
			row.DemandID = &in.DemandID
		}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert assembly: %w", err)
		}
		if in.DemandID != "" {
			if err := convenedOnDemand(tx, in.DemandID, row.ID); err != nil {
				return err
			}
		}
		out = row.assembly()
		return kit.RecordAudit(tx, actor, "assembly.create", "assembly", row.ID,
			map[string]any{"title": row.Title, "form": row.Form, "voting_start": row.VotingStart, "voting_end": row.VotingEnd})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// legalMajority is the least majority the law asks for an item kind, as a
// share of the votes cast: more than half for ordinary decisions, three
// quarters for changes of the bylaws (§16(2) GenG), nine tenths for bylaws
// that impose new duties on members (§16(3) GenG).
func legalMajority(kind string) (num, den int) {
	switch kind {
	case ItemBylawChange:
		return 3, 4
	case ItemBylawNewDuty:
		return 9, 10
	}
	return 1, 2
}

var itemKinds = []string{ItemOrdinary, ItemBylawChange, ItemBylawNewDuty, ItemElection}

// AddItem puts an item on the agenda of a planned assembly, free or from a
// proposal. The agenda is fixed once the invitation has gone out: members
// decide whether to come, and whom to authorise, by what it announces.
func (g *Governance) AddItem(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string, in ItemInput) (*AgendaItem, error) {
	in.Title, in.Description = strings.TrimSpace(in.Title), strings.TrimSpace(in.Description)
	in.Kind, in.ProposalID = strings.TrimSpace(in.Kind), strings.TrimSpace(in.ProposalID)
	var out *AgendaItem
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board can set the agenda."); err != nil {
			return err
		}
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		if a.Status != AssemblyPlanned {
			return models.Conflict("Voting has opened; the agenda can no longer change.")
		}
		var prop *Proposal
		if in.ProposalID != "" {
			if prop, err = loadProposal(tx, in.ProposalID); err != nil {
				return err
			}
			if prop.Status != ProposalSubmitted {
				return models.Conflict("This proposal is already on an agenda or decided.")
			}
		}
		supplement := a.InvitedAt != nil
		if supplement {
			if err := g.canSupplement(tx, a, prop); err != nil {
				return err
			}
		}
		if prop != nil {
			if in.Title == "" {
				in.Title = prop.Title
			}
			if in.Description == "" {
				in.Description = prop.Reasoning
			}
		}
		fields, msgs := map[string]string{}, map[string]models.Msg{}
		kit.TextField(fields, "title", in.Title, "Give the item a title.", 200)
		if kit.UTF8Len(in.Description) > 20000 {
			fields["description"] = "This is too long (at most 20000 characters)."
		}
		kit.NoControl(fields, "description", in.Description, true)
		row := itemRow{ID: kit.NewID(), AssemblyID: a.ID, Title: in.Title, Description: in.Description, Kind: in.Kind,
			Secret: in.Secret, Quorum: in.Quorum, Demanded: supplement, Discharge: strings.TrimSpace(in.Discharge), S67a: strings.TrimSpace(in.S67a),
			Annual: strings.TrimSpace(in.Annual)}
		if row.Discharge != "" && !slices.Contains(dischargeOrgans, row.Discharge) {
			fields["discharge"] = "Choose the board or the supervisory board, or no discharge."
		}
		if row.Discharge != "" && in.Kind != ItemOrdinary {
			fields["discharge"] = "A discharge is an ordinary decision."
		}
		if row.Annual != "" && (!slices.Contains(annualItems, row.Annual) || in.Kind != ItemOrdinary || row.Discharge != "") {
			fields["annual"] = "Choose approval of the annual accounts or the use of the result, on an ordinary item without discharge."
		}
		if row.S67a != "" && (!slices.Contains(s67aKinds, row.S67a) || (in.Kind != ItemBylawChange && in.Kind != ItemBylawNewDuty)) {
			fields["s67a"] = "Only a change of the bylaws can be of a kind that opens the extraordinary notice (§67a GenG)."
		}
		if prop != nil {
			row.ProposalID = &prop.ID
		}
		var candidates []string
		switch {
		case !slices.Contains(itemKinds, in.Kind):
			fields["kind"] = "Choose an ordinary decision, a change of the bylaws, new duties in the bylaws, or an election."
		case in.Kind == ItemElection:
			if prop != nil {
				fields["kind"] = "A proposal is decided by a vote, not an election."
			}
			if in.Seats < 1 || in.Seats > 100 {
				fields["seats"] = "Enter the number of seats, from 1 to 100."
			}
			seen := map[string]bool{}
			for _, c := range in.Candidates {
				c = strings.TrimSpace(c)
				if c == "" {
					continue
				}
				if seen[c] {
					msgs["candidates"] = models.Msgf("%s is named twice.", c)
					fields["candidates"] = msgs["candidates"].String()
				}
				kit.NoControl(fields, "candidates", c, false)
				seen[c] = true
				candidates = append(candidates, c)
			}
			if len(candidates) == 0 {
				fields["candidates"] = "Name at least one candidate."
			}
			row.Seats = in.Seats
			if row.Organ = strings.TrimSpace(in.Organ); row.Organ != "" && !slices.Contains(electedOrgans, row.Organ) {
				fields["organ"] = "Choose the organ the election fills, or none."
			}
			if row.ElectionMethod, err = ruleStringAt(tx, rulebook.RuleElectionMethod, g.now()); err != nil {
				return err
			}
		default:
			num, den := legalMajority(in.Kind)
			if prop != nil && in.Kind == ItemOrdinary && proposalChangesBylaws(prop) {
				fields["kind"] = "This proposal changes the bylaws; it needs a vote on a change of the bylaws."
			}
			switch {
			case in.MajorityNum == 0 && in.MajorityDen == 0:
				row.MajorityNum, row.MajorityDen = num, den
			case in.MajorityNum < 1 || in.MajorityDen < 1 || in.MajorityNum > in.MajorityDen || in.MajorityDen > 1000:
				fields["majority"] = "Enter the majority as a fraction of at most one, e.g. 2/3."
			case in.MajorityNum*den < num*in.MajorityDen:
				msgs["majority"] = models.Msgf("The law asks for at least %d/%d of the votes cast here; a weaker majority is not allowed.", num, den)
				fields["majority"] = msgs["majority"].String()
			default:
				row.MajorityNum, row.MajorityDen = in.MajorityNum, in.MajorityDen
			}
		}
		if in.Quorum < 0 {
			fields["quorum"] = "The quorum cannot be negative."
		}
		excluded := kit.UniqueNonEmpty(in.ExcludedUserIDs)
		if len(excluded) > 0 {
			var n int64
			if err := tx.Model(&account.User{}).Where("id IN ?", excluded).Count(&n).Error; err != nil {
				return fmt.Errorf("check excluded voters: %w", err)
			}
			if int(n) != len(excluded) {
				fields["excluded"] = "Choose the excluded voters among the accounts of the cooperative."
			}
		}
		if len(fields) > 0 {
			return models.InvalidWith(fields, msgs)
		}
		var last *int
		if err := tx.Model(&itemRow{}).Where("assembly_id = ?", a.ID).Select("MAX(position)").Scan(&last).Error; err != nil {
			return fmt.Errorf("number agenda item: %w", err)
		}
		row.Position = 1
		if last != nil {
			row.Position = *last + 1
		}
		if err := tx.Create(&row).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("This proposal is already on an agenda.")
			}
			return fmt.Errorf("insert agenda item: %w", err)
		}
		item := row.item()
		accounts, err := organCandidates(tx, row.Organ, candidates)
		if err != nil {
			return err
		}
		for i, name := range candidates {
			c := candidateRow{ID: kit.NewID(), ItemID: row.ID, Position: i + 1, Name: name}
			if accounts != nil {
				c.Name, c.UserID = accounts[i].Name, &accounts[i].ID
			}
			if err := tx.Create(&c).Error; err != nil {
				return fmt.Errorf("insert candidate: %w", err)
			}
			item.Candidates = append(item.Candidates, Candidate{ID: c.ID, Name: c.Name, UserID: accounts.id(i)})
		}
		for _, u := range excluded {
			if err := tx.Create(&exclusionRow{ItemID: row.ID, UserID: u}).Error; err != nil {
				return fmt.Errorf("insert excluded voter: %w", err)
			}
		}
		item.ExcludedUserIDs = excluded
		if prop != nil {
			if err := tx.Model(&proposalRow{}).Where("id = ?", prop.ID).Update("status", ProposalOnAgenda).Error; err != nil {
				return fmt.Errorf("place proposal: %w", err)
			}
		}
		out = &item
		if supplement {
			if err := g.sendSupplement(ctx, tx, a, item); err != nil {
				return err
			}
		}
		return kit.RecordAudit(tx, actor, "assembly.add_item", "assembly", a.ID, map[string]any{"item_id": row.ID, "title": row.Title,
			"supplement": supplement, "discharge": row.Discharge, "annual": row.Annual,
			"kind": row.Kind, "proposal_id": in.ProposalID, "secret": row.Secret, "majority": fmt.Sprintf("%d/%d", row.MajorityNum, row.MajorityDen),
			"quorum": row.Quorum, "excluded": excluded})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Organs whose discharge excludes their sitting members (§43(6) GenG).
const (
	DischargeBoard       = "board"
	DischargeSupervisory = "supervisory_board"
)

var dischargeOrgans = []string{DischargeBoard, DischargeSupervisory}

// Kinds of bylaw changes after which a member who objected may give
// extraordinary notice (§67a GenG, naming §16(2) nos. 2 to 5 and §16(3)).
var s67aKinds = []string{"business_object", "share_increase", "compulsory_shares", "additional_contributions", "notice_period", "new_duties"}

// canSupplement lets the board add an item after the invitation only on a
// demand of members (§45(2) GenG), with a second notice at least a week
// before the assembly (§46(2) GenG).
func (g *Governance) canSupplement(tx *gorm.DB, a *assemblyRow, prop *Proposal) error {
	needed, err := supportNeeded(tx, g.now())
	if err != nil {
		return err
	}
	if prop == nil || prop.Supporters < needed {
		return models.Conflict("The invitation has gone out; only items members demanded (§45(2) GenG) can still be added.")
	}
	n, err := g.noticeRules(tx, g.now())
	if err != nil {
		return err
	}
	if m := n.supplementProblem(a, g.now()); m.Format != "" {
		return models.Conflictf(m.Format, m.Args...)
	}
	return nil
}

// sendSupplement announces an item added after the invitation to every
// member and appends the notice to the invitation as sent.
func (g *Governance) sendSupplement(ctx context.Context, tx *gorm.DB, a *assemblyRow, it AgendaItem) error {
	loc, err := g.location(tx)
	if err != nil {
		return err
	}
	now := g.now()
	text := supplementText(a, it, now, loc)
	if err := tx.Model(&assemblyRow{}).Where("id = ?", a.ID).Updates(map[string]any{
		"second_notice_at": now, "invitation_text": a.InvitationText + text}).Error; err != nil {
		return fmt.Errorf("record supplementary notice: %w", err)
	}
	recipients, err := memberRecipients(tx)
	if err != nil {
		return err
	}
	mails := make([]river.JobArgs, 0, len(recipients))
	for _, r := range recipients {
		mails = append(mails, mailSupplement(memberLocale(ctx, r, loc), r, a, it, now))
	}
	return kit.EnqueueMany(ctx, g.queue, tx, mails)
}

// proposalChangesBylaws tells whether adopting p changes the bylaws.
func proposalChangesBylaws(p *Proposal) bool {
	if p.Kind == ProposalText {
		return rulebook.IsBylawRule(p.RuleKey)
	}
	for k := range p.Parameters {
		if rulebook.IsBylawRule(k) {
			return true
		}
	}
	return false
}

func (r itemRow) item() AgendaItem {
	it := AgendaItem{ID: r.ID, AssemblyID: r.AssemblyID, Position: r.Position, Title: r.Title, Description: r.Description,
		Kind: r.Kind, Secret: r.Secret, MajorityNum: r.MajorityNum, MajorityDen: r.MajorityDen, Quorum: r.Quorum, Seats: r.Seats,
		Demanded: r.Demanded, Discharge: r.Discharge, S67a: r.S67a, Annual: r.Annual, ElectionMethod: r.ElectionMethod, Declaration: r.Declaration,
		Organ: r.Organ, AppointedAt: utcPtr(r.AppointedAt)}
	if r.ProposalID != nil {
		it.ProposalID = *r.ProposalID
	}
	if r.MotionID != nil {
		it.MotionID = *r.MotionID
	}
	it.ClosedAt, it.VotingStart, it.VotingEnd = utcPtr(r.ClosedAt), utcPtr(r.VotingStart), utcPtr(r.VotingEnd)
	if r.RunoffOf != nil {
		it.RunoffOf = *r.RunoffOf
	}
	if r.RoundResult != "" {
		var res ItemResult
		if json.Unmarshal([]byte(r.RoundResult), &res) == nil {
			it.Round = &res
		}
	}
	return it
}

// loadItems reads the agenda with candidates and excluded voters.
func loadItems(tx *gorm.DB, assemblyID string) ([]AgendaItem, error) {
	var rows []itemRow
	if err := tx.Where("assembly_id = ?", assemblyID).Order("position").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load agenda: %w", err)
	}
	var cands []candidateRow
	if err := tx.Raw(`SELECT c.* FROM item_candidates c JOIN agenda_items i ON i.id = c.item_id
		WHERE i.assembly_id = ? ORDER BY c.item_id, c.position`, assemblyID).Scan(&cands).Error; err != nil {
		return nil, fmt.Errorf("load candidates: %w", err)
	}
	var excl []exclusionRow
	if err := tx.Raw(`SELECT x.* FROM item_exclusions x JOIN agenda_items i ON i.id = x.item_id
		WHERE i.assembly_id = ? ORDER BY x.item_id, x.user_id`, assemblyID).Scan(&excl).Error; err != nil {
		return nil, fmt.Errorf("load excluded voters: %w", err)
	}
	items := make([]AgendaItem, len(rows))
	index := map[string]int{}
	for i, r := range rows {
		items[i] = r.item()
		index[r.ID] = i
	}
	for _, r := range rows {
		if r.RunoffOf != nil {
			if j, ok := index[*r.RunoffOf]; ok {
				items[j].RunoffItemID = r.ID
			}
		}
	}
	for _, c := range cands {
		it := &items[index[c.ItemID]]
		cand := Candidate{ID: c.ID, Name: c.Name}
		if c.UserID != nil {
			cand.UserID = *c.UserID
		}
		it.Candidates = append(it.Candidates, cand)
	}
	for _, x := range excl {
		it := &items[index[x.ItemID]]
		it.ExcludedUserIDs = append(it.ExcludedUserIDs, x.UserID)
	}
	return items, nil
}

// SendInvitations convenes the assembly: one invitation mail with the
// agenda per member, in the same transaction that records the sending and
// keeps the text as sent (for the minutes, §47 GenG). It refuses what
// would make the assembly's resolutions contestable: an invitation without
// due notice (§46(1) GenG), without the place or the access details, or
// while a proposal members demanded (§45(2) GenG) is missing.
func (g *Governance) SendInvitations(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board can convene a general assembly."); err != nil {
			return err
		}
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		if a.Status != AssemblyPlanned || a.InvitedAt != nil {
			return models.Conflict("The invitations have already gone out.")
		}
		items, err := loadItems(tx, a.ID)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return models.Conflict("Set the agenda before inviting: the invitation must announce it.")
		}
		if msg := a.missingContents(); msg != "" {
			return models.Conflict(msg)
		}
		refusal, err := annualDocumentsProblem(tx, a.ID, items, time.Time{})
		if err != nil {
			return err
		}
		if refusal != nil {
			return refusal
		}
		now := g.now()
		n, err := g.noticeRules(tx, now)
		if err != nil {
			return err
		}
		if m := n.invitationProblem(a, now); m.Format != "" {
			return models.Conflictf(m.Format, m.Args...)
		}
		missing, err := g.demandedProposals(tx)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			titles := make([]string, len(missing))
			for i, p := range missing {
				titles[i] = fmt.Sprintf("%q", p.Title)
			}
			return models.Conflict("Members have demanded these proposals for the agenda (§45(2) GenG); place them before inviting: " + strings.Join(titles, ", ") + ".")
		}
		a.TimeZone = n.loc.String()
		text := invitationText(a, items, n.loc)
		recipients, err := memberRecipients(tx)
		if err != nil {
			return err
		}
		if err := tx.Model(&assemblyRow{}).Where("id = ?", a.ID).Updates(map[string]any{
			"invited_at": now, "invitation_text": text, "time_zone": a.TimeZone}).Error; err != nil {
			return fmt.Errorf("record invitation: %w", err)
		}
		mails := make([]river.JobArgs, 0, len(recipients))
		for _, r := range recipients {
			mails = append(mails, mailInvitation(memberLocale(ctx, r, n.loc), r, a, items))
		}
		if err := kit.EnqueueMany(ctx, g.queue, tx, mails); err != nil {
			return err
		}
		ids := make([]string, len(recipients))
		for i, r := range recipients {
			ids[i] = r.ID
		}
		if err := account.NotifyMany(tx, ids, account.KindVotes, "/assemblies/"+a.ID,
			models.Msgf("You are invited to the general assembly %q; voting runs from %s to %s.", a.Title,
				models.Moment(a.VotingStart), models.Moment(a.VotingEnd))); err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "assembly.invite", "assembly", a.ID,
			map[string]any{"recipients": len(recipients), "received_on": kit.FormatDate(n.received(now))})
	})
}

// missingContents says what an invitation of this form lacks (§46(1),
// §43b GenG); "" when it is complete.
func (r *assemblyRow) missingContents() string {
	switch {
	case (r.Form == FormInPerson || r.Form == FormHybrid) && r.Place == "":
		return "The invitation must name the place of the assembly."
	case r.Form != FormInPerson && r.AccessDetails == "":
		return "The invitation must say how members take part online."
	case r.Form == FormTwoPhase && r.DiscussionForm == "":
		return "The invitation must describe how the discussion phase runs."
	}
	return ""
}

// demandedProposals are the proposals with the support that obliges the
// board to place them (§45(2) GenG) and not yet on an agenda.
func (g *Governance) demandedProposals(tx *gorm.DB) ([]Proposal, error) {
	needed, err := supportNeeded(tx, g.now())
	if err != nil {
		return nil, err
	}
	return loadProposals(tx, "p.status = ? AND (SELECT COUNT(*) FROM proposal_supports s WHERE s.proposal_id = p.id) >= ?",
		ProposalSubmitted, needed)
}

// OpenVoting opens the vote and fixes the electorate: the members in good
// standing admitted by now. Nobody joins it later, so the count of a secret
// ballot never moves by one member whose vote could then be told by
// subtraction. Proxies count only if grantor and holder are both in it.
func (g *Governance) OpenVoting(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board can open the vote."); err != nil {
			return err
		}
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		now := g.now()
		switch {
		case a.Status != AssemblyPlanned:
			return models.Conflict("Voting has already been opened.")
		case a.InvitedAt == nil:
			return models.Conflict("Send the invitations before opening the vote.")
		case now.Before(a.VotingStart):
			// Cast refuses ballots before the start, so an early opening
			// would show members ballots that cannot be cast.
			return models.Conflictf("Voting starts at %s; open it then.", models.Moment(a.VotingStart))
		case !now.Before(a.VotingEnd):
			return models.Conflict("The voting period of this assembly is over.")
		}
		n, err := g.noticeRules(tx, *a.InvitedAt)
		if err != nil {
			return err
		}
		if m := n.invitationProblem(a, *a.InvitedAt); m.Format != "" {
			// Only an assembly invited before the portal refused short
			// notice gets here; its resolutions would be contestable.
			return models.Conflictf("The invitations went out too late: %s", m)
		}
		items, err := loadItems(tx, a.ID)
		if err != nil {
			return err
		}
		if err := electionReady(tx, a.ID, items); err != nil {
			return err
		}
		refusal, err := annualDocumentsProblem(tx, a.ID, items, a.noticeFrom().Add(-documentsBefore))
		if err != nil {
			return err
		}
		if refusal != nil {
			return refusal
		}
		res := tx.Exec(`INSERT INTO electorate (assembly_id, user_id, name, holder_id)
			SELECT ?, m.user_id, CASE WHEN m.person_kind = ? AND m.organisation <> '' THEN m.organisation ELSE m.legal_name END, NULL
			FROM memberships m WHERE m.status IN ? AND m.admitted_on IS NOT NULL AND m.admitted_on <= ?`,
			a.ID, membership.PersonLegal, goodStanding, now)
		if res.Error != nil {
			return fmt.Errorf("fix electorate: %w", res.Error)
		}
		electorate := res.RowsAffected
		if err := excludeFromDischarge(tx, actor, a.ID); err != nil {
			return err
		}
		res = tx.Exec(`UPDATE electorate SET holder_id = (
				SELECT p.proxy_id FROM proxies p
				WHERE p.assembly_id = electorate.assembly_id AND p.grantor_id = electorate.user_id AND p.revoked_at IS NULL)
			WHERE assembly_id = ? AND EXISTS (
				SELECT 1 FROM proxies p LEFT JOIN electorate h ON h.assembly_id = p.assembly_id AND h.user_id = p.proxy_id
				WHERE p.assembly_id = electorate.assembly_id AND p.grantor_id = electorate.user_id AND p.revoked_at IS NULL
				AND (h.user_id IS NOT NULL OR p.relationship <> ''))`, a.ID)
		if res.Error != nil {
			return fmt.Errorf("assign proxies: %w", res.Error)
		}
		if err := tx.Model(&assemblyRow{}).Where("id = ?", a.ID).
			Updates(map[string]any{"status": AssemblyVoting, "opened_at": now}).Error; err != nil {
			return fmt.Errorf("open voting: %w", err)
		}
		if err := attend(tx, a.ID, v.UserID, AttendOnline, now); err != nil { // the board member running it is present
			return err
		}
		var voters []string
		if err := tx.Raw(`SELECT user_id FROM electorate WHERE assembly_id = ? ORDER BY user_id`, a.ID).Scan(&voters).Error; err != nil {
			return fmt.Errorf("load electorate: %w", err)
		}
		if err := account.NotifyManyAndMail(ctx, g.queue, tx, voters, account.KindVotes, "/assemblies/"+a.ID,
			models.Msgf("Voting has opened in the general assembly %q; it runs until %s.", a.Title, models.Moment(a.VotingEnd)),
			func(ctx context.Context, r account.Recipient) jobargs.SendMail { return mailVotingOpened(ctx, r, a) }); err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "assembly.open", "assembly", a.ID,
			map[string]any{"electorate": electorate, "proxies": res.RowsAffected})
	})
}

// Assemblies lists the general assemblies, latest first.
func (g *Governance) Assemblies(ctx context.Context, v models.Viewer) ([]Assembly, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	var rows []assemblyRow
	if err := db.Omit("result_file").Order("voting_start DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list assemblies: %w", err)
	}
	out := make([]Assembly, len(rows))
	for i := range rows {
		out[i] = rows[i].assembly()
	}
	return out, nil
}

type electorRow struct {
	AssemblyID string
	UserID     string
	Name       string
	HolderID   *string
}

func (electorRow) TableName() string { return "electorate" }

// Assembly shows an assembly to a member: the agenda, the votes they may
// cast (their own, and those of members who authorised them), proxies;
// the board also sees the live turnout, never partial results.
func (g *Governance) Assembly(ctx context.Context, v models.Viewer, id string) (*AssemblyDetail, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		// A relative a member authorised (where the bylaws allow one)
		// sees the assembly they vote in.
		var n int64
		if qerr := db.Model(&proxyRow{}).Where("assembly_id = ? AND proxy_id = ? AND revoked_at IS NULL", id, v.UserID).Count(&n).Error; qerr != nil {
			return nil, fmt.Errorf("check proxy: %w", qerr)
		}
		if n == 0 {
			return nil, err
		}
	}
	a, err := loadAssembly(db.Omit("result_file"), id, false)
	if err != nil {
		return nil, err
	}
	d := &AssemblyDetail{Assembly: a.assembly()}
	if d.Items, err = loadItems(db, a.ID); err != nil {
		return nil, err
	}
	if e, _, err := loadElection(db, a.ID); err != nil {
		return nil, err
	} else if e != nil && e.PublicKey != "" {
		d.Encrypted = true
	}
	d.NeedsElectionKey = !d.Encrypted && slices.ContainsFunc(d.Items, func(it AgendaItem) bool { return it.Secret })
	if err := g.conductDetail(db, a, d, v); err != nil {
		return nil, err
	}
	if d.Documents, err = loadDocuments(db, a.ID); err != nil {
		return nil, err
	}
	var n int64
	if err := db.Model(&electorRow{}).Where("assembly_id = ?", a.ID).Count(&n).Error; err != nil {
		return nil, fmt.Errorf("count electorate: %w", err)
	}
	d.Electorate = int(n)

	// The viewer's votes: their own (a personal vote overrides a proxy
	// they gave), and those they hold.
	var rights []electorRow
	if err := db.Where("assembly_id = ? AND (user_id = ? OR holder_id = ?)", a.ID, v.UserID, v.UserID).
		Order("name, user_id").Find(&rights).Error; err != nil {
		return nil, fmt.Errorf("load voting rights: %w", err)
	}
	if len(rights) > 0 {
		ids := make([]string, len(rights))
		for i, r := range rights {
			ids[i] = r.UserID
		}
		var voted []struct{ ItemID, MemberID string }
		if err := db.Raw(`SELECT r.item_id, r.member_id FROM vote_records r JOIN agenda_items i ON i.id = r.item_id
			WHERE i.assembly_id = ? AND r.member_id IN ?`, a.ID, ids).Scan(&voted).Error; err != nil {
			return nil, fmt.Errorf("load own votes: %w", err)
		}
		for _, r := range rights {
			right := VotingRight{OnBehalfOf: r.UserID, Name: r.Name, Voted: map[string]bool{}}
			for _, it := range d.Items {
				right.Voted[it.ID] = false
			}
			for _, x := range voted {
				if x.MemberID == r.UserID {
					right.Voted[x.ItemID] = true
				}
			}
			if r.UserID == v.UserID { // one's own vote first
				d.Rights = append([]VotingRight{right}, d.Rights...)
			} else {
				d.Rights = append(d.Rights, right)
			}
		}
	}
	proxies, err := loadProxies(db, "p.assembly_id = ? AND p.revoked_at IS NULL AND (p.grantor_id = ? OR p.proxy_id = ?)", a.ID, v.UserID, v.UserID)
	if err != nil {
		return nil, err
	}
	for i := range proxies {
		if proxies[i].GrantorID == v.UserID {
			d.ProxyGiven = &proxies[i]
		} else {
			d.ProxiesHeld = append(d.ProxiesHeld, proxies[i])
		}
	}

	board, err := account.UserHasRole(db, v.UserID, account.RoleBoard)
	if err != nil {
		return nil, err
	}
	if board && a.Status != AssemblyPlanned {
		var counts []struct {
			ItemID string
			N      int
		}
		if err := db.Raw(`SELECT r.item_id, COUNT(*) AS n FROM vote_records r JOIN agenda_items i ON i.id = r.item_id
			WHERE i.assembly_id = ? GROUP BY r.item_id`, a.ID).Scan(&counts).Error; err != nil {
			return nil, fmt.Errorf("count turnout: %w", err)
		}
		d.Turnout = map[string]int{}
		for _, it := range d.Items {
			d.Turnout[it.ID] = 0
		}
		for _, c := range counts {
			d.Turnout[c.ItemID] = c.N
		}
	}
	if a.Status == AssemblyPlanned {
		n, err := g.noticeRules(db, g.now())
		if err != nil {
			return nil, err
		}
		d.SendInvitationsBy = n.lastSendDay(a.noticeFrom(), n.noticeDays)
		d.AddDemandedItemsBy = n.lastSendDay(a.noticeFrom(), supplementNoticeDays)
		if a.InvitedAt == nil {
			d.NoticeWarning = n.invitationProblem(a, g.now())
			d.NoticeShortfall = n.shortfall(a.noticeFrom(), g.now(), n.noticeDays)
		}
		if d.MustPlace, err = g.demandedProposals(db); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func loadProxies(tx *gorm.DB, where string, args ...any) ([]Proxy, error) {
	var out []Proxy
	err := tx.Raw(`SELECT p.assembly_id, p.grantor_id, g.name AS grantor_name, p.proxy_id, h.name AS proxy_name,
			p.declaration, p.created_at, p.revoked_at
		FROM proxies p JOIN users g ON g.id = p.grantor_id JOIN users h ON h.id = p.proxy_id
		WHERE `+where+` ORDER BY p.created_at, p.id`, args...).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("load proxies: %w", err)
	}
	return out, nil
}

// inGoodStanding tells whether the account holds a membership that carries
// a vote.
func inGoodStanding(tx *gorm.DB, userID string) (*membership.Membership, error) {
	var m membership.Membership
	err := tx.Where("user_id = ? AND status IN ?", userID, goodStanding).Limit(1).Find(&m).Error
	if err != nil {
		return nil, fmt.Errorf("load membership of %s: %w", userID, err)
	}
	if m.ID == "" {
		return nil, nil
	}
	return &m, nil
}

// Relationships of a proxy who is not a member, where the bylaws allow one
// (rule proxy_eligibility = members_and_relatives).
var proxyRelationships = []string{"spouse", "registered_partner", "parent", "child", "sibling"}

// GrantProxy authorises another member to vote for the viewer (§43(5)
// GenG): in text form, to a member in good standing, who may represent at
// most proxy_max_represented members and cannot pass the authority on.
func (g *Governance) GrantProxy(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, proxyEmail, declaration string) error {
	return g.GrantProxyTo(ctx, actor, v, assemblyID, proxyEmail, declaration, "")
}

// GrantProxyTo is GrantProxy with the relationship of a proxy who is not a
// member (a spouse, registered partner, parent, child or sibling), allowed
// only where the bylaws let relatives act as proxies; "" for a member.
func (g *Governance) GrantProxyTo(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, proxyEmail, declaration, relationship string) error {
	proxyEmail, declaration, relationship = account.NormalizeEmail(proxyEmail), strings.TrimSpace(declaration), strings.TrimSpace(relationship)
	if relationship != "" && !slices.Contains(proxyRelationships, relationship) {
		return models.Invalid(map[string]string{"relationship": "Choose spouse, registered partner, parent, child or sibling."})
	}
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		grantor, err := inGoodStanding(tx, v.UserID)
		if err != nil {
			return err
		}
		if grantor == nil {
			return models.Forbidden("Only members can give a proxy.")
		}
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		if a.Status != AssemblyPlanned {
			return models.Conflict("Voting has opened; proxies can no longer be given.")
		}
		var holder account.User
		if err := tx.Where("email = ?", proxyEmail).Limit(1).Find(&holder).Error; err != nil {
			return fmt.Errorf("find proxy: %w", err)
		}
		noMember := models.Invalid(map[string]string{"proxy_email": "No member of the cooperative has this email address."})
		if holder.ID == "" {
			return noMember
		}
		if holder.ID == v.UserID {
			return models.Invalid(map[string]string{"proxy_email": "You cannot be your own proxy."})
		}
		hm, err := inGoodStanding(tx, holder.ID)
		if err != nil {
			return err
		}
		eligibility, err := ruleStringAt(tx, rulebook.RuleProxyEligibility, g.now())
		if err != nil {
			return err
		}
		switch {
		case hm != nil:
			relationship = "" // a member acts as a member
		case relationship == "":
			return noMember
		case eligibility != rulebook.ProxyMembersAndRelatives:
			return models.Invalid(map[string]string{"proxy_email": "The bylaws allow only members as proxies."})
		}
		limit, err := ruleIntAt(tx, rulebook.RuleProxyMaxRepresented, g.now())
		if err != nil {
			return err
		}
		if limit == 0 {
			return models.Conflict("The bylaws do not allow voting by proxy.")
		}
		var active []proxyRow
		if err := tx.Where("assembly_id = ? AND revoked_at IS NULL AND (grantor_id IN ? OR proxy_id IN ?)",
			a.ID, []string{v.UserID, holder.ID}, []string{v.UserID, holder.ID}).Find(&active).Error; err != nil {
			return fmt.Errorf("load proxies: %w", err)
		}
		held := 0
		for _, p := range active {
			switch {
			case p.GrantorID == v.UserID:
				return models.Conflict("You have already given a proxy for this assembly; revoke it first.")
			case p.ProxyID == v.UserID:
				return models.Conflict("You hold proxies of other members for this assembly, so you vote yourself; a proxy cannot be passed on.")
			case p.GrantorID == holder.ID:
				return models.Invalid(map[string]string{"proxy_email": holder.Name + " has given their own proxy away and cannot hold one."})
			case p.ProxyID == holder.ID:
				held++
			}
		}
		if held >= limit {
			return models.Invalidf("proxy_email", "%s already represents %d member(s), the most one proxy may (§43(5) GenG).", holder.Name, held)
		}
		if declaration == "" {
			declaration = fmt.Sprintf("I, %s, authorise %s to vote on my behalf at the general assembly %q.", grantor.DisplayName(), holder.Name, a.Title)
		}
		if kit.UTF8Len(declaration) > 5000 {
			return models.Invalid(map[string]string{"declaration": "This is too long (at most 5000 characters)."})
		}
		if kit.HasControl(declaration, true) {
			return models.Invalid(map[string]string{"declaration": kit.ControlCharsMessage})
		}
		p := proxyRow{ID: kit.NewID(), AssemblyID: a.ID, GrantorID: v.UserID, ProxyID: holder.ID, Declaration: declaration, CreatedAt: g.now(),
			Relationship: relationship}
		if err := tx.Create(&p).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("You have already given a proxy for this assembly; revoke it first.")
			}
			return fmt.Errorf("insert proxy: %w", err)
		}
		if err := kit.RecordAudit(tx, actor, "assembly.proxy_grant", "assembly", a.ID,
			map[string]any{"grantor": v.UserID, "proxy": holder.ID, "declaration": declaration}); err != nil {
			return err
		}
		loc, err := g.location(tx)
		if err != nil {
			return err
		}
		r := account.Recipient{ID: holder.ID, Email: holder.Email, Name: holder.Name, Language: holder.Language, TimeZone: holder.TimeZone}
		_, err = kit.Enqueue(ctx, g.queue, tx, mailProxyGranted(memberLocale(ctx, r, loc), r, grantor.DisplayName(), p.ID, a), nil)
		return err
	})
}

// RevokeProxy withdraws the viewer's proxy, possible until voting opens.
func (g *Governance) RevokeProxy(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		var p proxyRow
		if err := tx.Where("assembly_id = ? AND grantor_id = ? AND revoked_at IS NULL", a.ID, v.UserID).Limit(1).Find(&p).Error; err != nil {
			return fmt.Errorf("load proxy: %w", err)
		}
		if p.ID == "" {
			return models.NotFoundError("proxy")
		}
		if a.Status != AssemblyPlanned {
			return models.Conflict("Voting has opened; the proxy can no longer be revoked.")
		}
		if err := tx.Model(&proxyRow{}).Where("id = ?", p.ID).Update("revoked_at", g.now()).Error; err != nil {
			return fmt.Errorf("revoke proxy: %w", err)
		}
		return kit.RecordAudit(tx, actor, "assembly.proxy_revoke", "assembly", a.ID, map[string]any{"grantor": v.UserID, "proxy": p.ProxyID})
	})
}
