package governance

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The conduct of an assembly (§43b GenG): an assembly online is more than a
// voting window. Members speak to each agenda item, make motions
// (amendments of an item's proposal, procedural motions) and ask the board
// questions, which the board answers on the record (the right to
// information). A chair leads it and decides on motions. In two phases,
// speeches, questions and motions close with the discussion phase.

// Contribution kinds.
const (
	ContribSpeech     = "speech"
	ContribQuestion   = "question"
	ContribAnswer     = "answer"
	ContribAmendment  = "amendment"
	ContribProcedural = "procedural"
)

// Motion statuses: open until the chair decides; an admitted amendment may
// be put to the vote as an agenda item of its own.
const (
	MotionOpen     = "open"
	MotionAdmitted = "admitted"
	MotionRejected = "rejected"
	MotionVoting   = "voting"
)

// Attendance modes.
const (
	AttendInPerson = "in_person"
	AttendOnline   = "online"
)

type contributionRow struct {
	ID         string
	AssemblyID string
	ItemID     *string
	AuthorID   string
	Kind       string
	ParentID   *string
	Text       string
	Status     string
	DecidedBy  *string
	CreatedAt  time.Time
}

func (contributionRow) TableName() string { return "assembly_contributions" }

type attendanceRow struct {
	AssemblyID string
	UserID     string
	Mode       string
	JoinedAt   time.Time
}

func (attendanceRow) TableName() string { return "assembly_attendance" }

// Contribution is one entry of an assembly's record.
type Contribution struct {
	ID, ItemID, AuthorID, AuthorName, Kind, ParentID, Text, Status string
	CreatedAt                                                      time.Time
}

// Attendee is a member present at the assembly.
type Attendee struct {
	UserID, Name, Mode string
	JoinedAt           time.Time
}

type ContributionInput struct {
	ItemID, Kind, ParentID, Text string
}

var contributionKinds = []string{ContribSpeech, ContribQuestion, ContribAnswer, ContribAmendment, ContribProcedural}

func isMotion(kind string) bool { return kind == ContribAmendment || kind == ContribProcedural }

// SetChair names the chair of the assembly and where they lead it from
// (for the minutes, §47 GenG). The board appoints the chair the bylaws name
// (usually the chair of the supervisory board); until voting closes.
func (g *Governance) SetChair(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, chairEmail, location string) error {
	chairEmail, location = account.NormalizeEmail(chairEmail), strings.TrimSpace(location)
	fields := map[string]string{}
	kit.TextField(fields, "chair_location", location, "Say where the chair leads the assembly from (the place, or their location).", 500)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board appoints the chair."); err != nil {
			return err
		}
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		if a.Status == AssemblyClosed {
			return models.Conflict("Voting has closed; the chair can no longer change.")
		}
		var u account.User
		if err := tx.Where("email = ?", chairEmail).Limit(1).Find(&u).Error; err != nil {
			return fmt.Errorf("find chair: %w", err)
		}
		if u.ID == "" {
			return models.Invalid(map[string]string{"chair_email": "No account of the cooperative has this email address."})
		}
		if err := requireMemberOrBoard(tx, models.Viewer{UserID: u.ID}); err != nil {
			return models.Invalid(map[string]string{"chair_email": "The chair must be a member or sit on an organ of the cooperative."})
		}
		if err := tx.Model(&assemblyRow{}).Where("id = ?", a.ID).Updates(map[string]any{"chair_id": u.ID, "chair_location": location}).Error; err != nil {
			return fmt.Errorf("set chair: %w", err)
		}
		return kit.RecordAudit(tx, actor, "assembly.chair", "assembly", a.ID, map[string]any{"chair": u.ID, "location": location})
	})
}

// begun tells whether the assembly has begun (its discussion or voting).
func (r *assemblyRow) begun(now time.Time) bool { return !now.Before(r.noticeFrom()) }

// discussionClosed says why members cannot speak, ask or move now; "" when
// they can. In two phases the discussion phase ends it (§43b(1) no. 2).
func (r *assemblyRow) discussionClosed(now time.Time, kind string) string {
	switch {
	case r.Status == AssemblyClosed:
		return "The assembly is over."
	case !r.begun(now):
		return "The assembly has not begun yet."
	case kind != ContribAnswer && r.Form == FormTwoPhase && r.DiscussionEnd != nil && !now.Before(*r.DiscussionEnd):
		if isMotion(kind) {
			return "The discussion phase is over; in a two-phase assembly motions close with it."
		}
		return "The discussion phase is over."
	}
	return ""
}

// Contribute records a speech, a question to the board, the board's
// answer, or a motion. The author counts as present online.
func (g *Governance) Contribute(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string, in ContributionInput) (*Contribution, error) {
	in.ItemID, in.Kind, in.ParentID, in.Text = strings.TrimSpace(in.ItemID), strings.TrimSpace(in.Kind), strings.TrimSpace(in.ParentID), strings.TrimSpace(in.Text)
	fields := map[string]string{}
	if !slices.Contains(contributionKinds, in.Kind) {
		fields["kind"] = "Choose a speech, a question, an answer or a motion."
	}
	kit.TextBlock(fields, "text", in.Text, "Write what you want to say.", 10000)
	if len(fields) > 0 {
		return nil, models.Invalid(fields)
	}
	var out *Contribution
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, err := loadAssembly(tx, assemblyID, false)
		if err != nil {
			return err
		}
		board, err := account.UserHasRole(tx, v.UserID, account.RoleBoard)
		if err != nil {
			return err
		}
		m, err := inGoodStanding(tx, v.UserID)
		if err != nil {
			return err
		}
		switch {
		case in.Kind == ContribAnswer && !board:
			return models.Forbidden("Only the board answers questions.")
		case in.Kind != ContribAnswer && m == nil && !board:
			return models.Forbidden("Only members take part in the assembly.")
		}
		if msg := a.discussionClosed(g.now(), in.Kind); msg != "" {
			return models.Conflict(msg)
		}
		row := contributionRow{ID: kit.NewID(), AssemblyID: a.ID, AuthorID: v.UserID, Kind: in.Kind, Text: in.Text, CreatedAt: g.now()}
		if in.ItemID != "" {
			var n int64
			if err := tx.Model(&itemRow{}).Where("id = ? AND assembly_id = ?", in.ItemID, a.ID).Count(&n).Error; err != nil {
				return fmt.Errorf("check item: %w", err)
			}
			if n == 0 {
				return models.Invalid(map[string]string{"item_id": "Choose an item of this assembly's agenda."})
			}
			row.ItemID = &in.ItemID
		} else if in.Kind == ContribSpeech || in.Kind == ContribAmendment {
			return models.Invalid(map[string]string{"item_id": "Choose the agenda item you speak to."})
		}
		if in.Kind == ContribAnswer {
			var q contributionRow
			if err := tx.Where("id = ? AND assembly_id = ? AND kind = ?", in.ParentID, a.ID, ContribQuestion).Limit(1).Find(&q).Error; err != nil {
				return fmt.Errorf("load question: %w", err)
			}
			if q.ID == "" {
				return models.Invalid(map[string]string{"parent_id": "Choose the question you answer."})
			}
			row.ParentID, row.ItemID = &q.ID, q.ItemID
		}
		if isMotion(in.Kind) {
			row.Status = MotionOpen
		}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert contribution: %w", err)
		}
		if err := attend(tx, a.ID, v.UserID, AttendOnline, g.now()); err != nil {
			return err
		}
		cs, err := loadContributions(tx, "c.id = ?", row.ID)
		if err != nil {
			return err
		}
		out = &cs[0]
		return kit.RecordAudit(tx, actor, "assembly.contribute", "assembly", a.ID, map[string]any{"contribution": row.ID, "kind": row.Kind})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// attend records a member as present, once; the first mode counts.
func attend(tx *gorm.DB, assemblyID, userID, mode string, at time.Time) error {
	var n int64
	if err := tx.Model(&attendanceRow{}).Where("assembly_id = ? AND user_id = ?", assemblyID, userID).Count(&n).Error; err != nil {
		return fmt.Errorf("check attendance: %w", err)
	}
	if n > 0 {
		return nil
	}
	if err := tx.Create(&attendanceRow{AssemblyID: assemblyID, UserID: userID, Mode: mode, JoinedAt: at}).Error; err != nil {
		return fmt.Errorf("record attendance: %w", err)
	}
	return nil
}

// Attend records the viewer as present, in person or online, once the
// assembly has begun: the list of participants in the minutes.
func (g *Governance) Attend(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, mode string) error {
	if mode != AttendInPerson && mode != AttendOnline {
		return models.Invalid(map[string]string{"mode": "Say whether you take part in person or online."})
	}
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, err := loadAssembly(tx, assemblyID, false)
		if err != nil {
			return err
		}
		if err := requireMemberOrBoard(tx, v); err != nil {
			return err
		}
		if mode == AttendInPerson && a.Form != FormInPerson && a.Form != FormHybrid {
			return models.Invalid(map[string]string{"mode": "This assembly has no place to attend in person."})
		}
		if msg := a.discussionClosed(g.now(), ContribAnswer); msg != "" {
			return models.Conflict(msg)
		}
		if err := attend(tx, a.ID, v.UserID, mode, g.now()); err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "assembly.attend", "assembly", a.ID, map[string]any{"mode": mode})
	})
}

// DecideMotion is the chair's decision on a motion: admitted or rejected;
// an admitted amendment can be put to the vote as an agenda item of the
// same kind as the item it amends (voting on it runs with the others).
func (g *Governance) DecideMotion(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, motionID, decision string, putToVote bool) error {
	if decision != MotionAdmitted && decision != MotionRejected {
		return models.Invalid(map[string]string{"decision": "Admit or reject the motion."})
	}
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		if a.ChairID == nil || *a.ChairID != v.UserID {
			return models.Forbidden("Only the chair decides on motions.")
		}
		if a.Status == AssemblyClosed {
			return models.Conflict("The assembly is over.")
		}
		var m contributionRow
		if err := kit.ForUpdate(tx).Where("id = ? AND assembly_id = ?", motionID, a.ID).Limit(1).Find(&m).Error; err != nil {
			return fmt.Errorf("load motion: %w", err)
		}
		if m.ID == "" || !isMotion(m.Kind) {
			return models.NotFoundError("motion")
		}
		if m.Status != MotionOpen {
			return models.Conflict("The chair has already decided on this motion.")
		}
		status := decision
		if decision == MotionAdmitted && putToVote {
			if m.Kind != ContribAmendment || m.ItemID == nil {
				return models.Invalid(map[string]string{"decision": "Only an amendment of an agenda item is put to the vote."})
			}
			if err := g.amendmentItem(tx, a, m); err != nil {
				return err
			}
			status = MotionVoting
		}
		if err := tx.Model(&contributionRow{}).Where("id = ?", m.ID).Updates(map[string]any{"status": status, "decided_by": v.UserID}).Error; err != nil {
			return fmt.Errorf("decide motion: %w", err)
		}
		return kit.RecordAudit(tx, actor, "assembly.motion_decide", "assembly", a.ID, map[string]any{"motion": m.ID, "decision": status})
	})
}

// amendmentItem puts an admitted amendment to the vote, as an item after
// the one it amends with that item's kind and majority.
func (g *Governance) amendmentItem(tx *gorm.DB, a *assemblyRow, m contributionRow) error {
	var parent itemRow
	if err := tx.First(&parent, "id = ?", *m.ItemID).Error; err != nil {
		return fmt.Errorf("load amended item: %w", err)
	}
	if parent.Kind == ItemElection {
		return models.Invalid(map[string]string{"decision": "An election is not amended; propose candidates instead."})
	}
	var last *int
	if err := tx.Model(&itemRow{}).Where("assembly_id = ?", a.ID).Select("MAX(position)").Scan(&last).Error; err != nil {
		return fmt.Errorf("number agenda item: %w", err)
	}
	row := itemRow{ID: kit.NewID(), AssemblyID: a.ID, Position: *last + 1, Title: kit.Truncate("Amendment to "+fmt.Sprint(parent.Position)+". "+parent.Title, 200),
		Description: m.Text, Kind: parent.Kind, Secret: parent.Secret, MajorityNum: parent.MajorityNum, MajorityDen: parent.MajorityDen,
		Quorum: parent.Quorum, S67a: parent.S67a, MotionID: &m.ID}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("insert amendment item: %w", err)
	}
	return nil
}

func loadContributions(tx *gorm.DB, where string, args ...any) ([]Contribution, error) {
	var rows []struct {
		ID, AuthorID, AuthorName, Kind, Text, Status string
		ItemID, ParentID                             *string
		CreatedAt                                    time.Time
	}
	if err := tx.Raw(`SELECT c.id, c.author_id, u.name AS author_name, c.kind, c.text, c.status, c.item_id, c.parent_id, c.created_at
		FROM assembly_contributions c JOIN users u ON u.id = c.author_id WHERE `+where+` ORDER BY c.created_at, c.id`, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("load contributions: %w", err)
	}
	out := make([]Contribution, len(rows))
	for i, r := range rows {
		out[i] = Contribution{ID: r.ID, AuthorID: r.AuthorID, AuthorName: r.AuthorName, Kind: r.Kind, Text: r.Text, Status: r.Status, CreatedAt: r.CreatedAt.UTC()}
		if r.ItemID != nil {
			out[i].ItemID = *r.ItemID
		}
		if r.ParentID != nil {
			out[i].ParentID = *r.ParentID
		}
	}
	return out, nil
}

func loadAttendance(tx *gorm.DB, assemblyID string) ([]Attendee, error) {
	var out []Attendee
	if err := tx.Raw(`SELECT a.user_id, u.name, a.mode, a.joined_at FROM assembly_attendance a JOIN users u ON u.id = a.user_id
		WHERE a.assembly_id = ? ORDER BY u.name, a.user_id`, assemblyID).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("load attendance: %w", err)
	}
	return out, nil
}

// chairName reads the chair's name.
func chairName(tx *gorm.DB, id *string) (string, error) {
	if id == nil {
		return "", nil
	}
	var u account.User
	err := tx.First(&u, "id = ?", *id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("load chair: %w", err)
	}
	return u.Name, nil
}

// conductDetail fills what the assembly's page shows of its conduct and
// minutes for the viewer.
func (g *Governance) conductDetail(tx *gorm.DB, a *assemblyRow, d *AssemblyDetail, v models.Viewer) error {
	var err error
	if d.ChairName, err = chairName(tx, a.ChairID); err != nil {
		return err
	}
	d.IsChair = a.ChairID != nil && *a.ChairID == v.UserID
	if d.Contributions, err = loadContributions(tx, "c.assembly_id = ?", a.ID); err != nil {
		return err
	}
	if d.Attendance, err = loadAttendance(tx, a.ID); err != nil {
		return err
	}
	for _, p := range d.Attendance {
		d.Present = d.Present || p.UserID == v.UserID
	}
	if d.Objections, err = loadObjections(tx, a.ID); err != nil {
		return err
	}
	if d.Signatures, err = loadSignatures(tx, a.ID); err != nil {
		return err
	}
	if a.Status == AssemblyClosed && len(d.Objections) > 0 {
		full, err := loadAssembly(tx, a.ID, false) // the page's read leaves the result file out
		if err != nil {
			return err
		}
		res, err := publishedResults(full)
		if err != nil {
			return err
		}
		d.NoticeRights = noticeRights(a, d.Items, res, d.Objections, v.UserID, g.now())
	}
	return nil
}
