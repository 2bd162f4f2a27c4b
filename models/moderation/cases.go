package moderation

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// CaseFilter narrows the panel's queue.
type CaseFilter struct {
	State      string // open (default) | closed | all
	Mine       bool   // assigned to the viewer
	Category   string
	TargetKind string
	MinAgeDays int // first report at least this many days ago
}

// CaseRow is a line of the queue.
type CaseRow struct {
	Case
	Reports       int    `json:"reports"`
	AssigneeEmail string `json:"assignee_email,omitempty"`
	SubjectName   string `json:"subject_name"`
	// Age is the time since the first report.
	Age        time.Duration `gorm:"-" json:"-"`
	AgeSeconds int64         `gorm:"-" json:"age_seconds"`
}

// Cases is the panel's queue, oldest first report first.
func (m *Moderation) Cases(ctx context.Context, actor models.Actor, f CaseFilter) ([]CaseRow, error) {
	db := m.db.Gorm.WithContext(ctx)
	if err := requireStaffTx(db, actor); err != nil {
		return nil, err
	}
	q := db.Table("moderation_cases AS c").Select(`c.*, (SELECT COUNT(*) FROM moderation_reports r WHERE r.case_id = c.id) AS reports,
		COALESCE(a.email, '') AS assignee_email, s.name AS subject_name`).
		Joins("LEFT JOIN users a ON a.id = c.assignee_id").Joins("JOIN users s ON s.id = c.subject_id")
	switch f.State {
	case "", CaseOpen:
		q = q.Where("c.state = ?", CaseOpen)
	case CaseClosed:
		q = q.Where("c.state = ?", CaseClosed)
	case "all":
	default:
		return nil, models.Invalid(map[string]string{"state": "Choose open, closed or all."})
	}
	if f.Mine {
		q = q.Where("c.assignee_id = ?", actor.UserID)
	}
	if f.Category != "" {
		if !slices.Contains(MemberCategories, f.Category) {
			return nil, models.Invalid(map[string]string{"category": "Unknown category."})
		}
		q = q.Where("c.category = ?", f.Category)
	}
	if f.TargetKind != "" {
		if !slices.Contains(TargetKinds, f.TargetKind) {
			return nil, models.Invalid(map[string]string{"target_kind": "Unknown kind of target."})
		}
		q = q.Where("c.target_kind = ?", f.TargetKind)
	}
	now := m.now()
	if f.MinAgeDays < 0 || f.MinAgeDays > 3650 {
		return nil, models.Invalid(map[string]string{"age": "Enter 0 to 3650 days."})
	}
	if f.MinAgeDays > 0 {
		q = q.Where("c.first_report_at <= ?", now.AddDate(0, 0, -f.MinAgeDays))
	}
	out := []CaseRow{}
	if err := q.Order("c.first_report_at, c.id").Limit(500).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	for i := range out {
		out[i].Age = now.Sub(out[i].FirstReportAt)
		out[i].AgeSeconds = int64(out[i].Age / time.Second)
	}
	return out, nil
}

// CaseDetail is one case on the panel.
type CaseDetail struct {
	Case
	SubjectName  string                `json:"subject_name"`
	SubjectEmail string                `json:"subject_email"`
	Assignee     string                `json:"assignee,omitempty"`
	Reports      []Report              `json:"reports"`
	Notes        []Note                `json:"notes"`
	Sanctions    []Sanction            `json:"sanctions"`
	Appeals      []Appeal              `json:"appeals"`
	Earlier      []Case                `json:"earlier_cases"`     // the subject's other cases
	EarlierSanct []Sanction            `json:"earlier_sanctions"` // in those cases
	Strikes      int                   `json:"strikes"`           // sanctions still counting
	Suggested    int                   `json:"suggested_step"`    // strikes + 1, at most the top
	Ladder       []rulebook.LadderStep `json:"ladder"`
	SinceFirst   time.Duration         `json:"-"`
	SinceFirstS  int64                 `json:"since_first_report_seconds"`
	// SubjectVMs are the member's VMs, for a throttle or suspension in a
	// case about the member or a post.
	SubjectVMs []SubjectVM `json:"subject_vms"`
}

// SubjectVM is one VM of the member concerned.
type SubjectVM struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Case reads one case for the panel.
func (m *Moderation) Case(ctx context.Context, actor models.Actor, id string) (*CaseDetail, error) {
	db := m.db.Gorm.WithContext(ctx)
	if err := requireStaffTx(db, actor); err != nil {
		return nil, err
	}
	d := &CaseDetail{}
	if err := kit.First(db, &d.Case, id, "case"); err != nil {
		return nil, err
	}
	var subj struct{ Name, Email string }
	if err := db.Table("users").Select("name, email").Where("id = ?", d.SubjectID).Take(&subj).Error; err != nil {
		return nil, fmt.Errorf("load subject: %w", err)
	}
	d.SubjectName, d.SubjectEmail = subj.Name, subj.Email
	if d.AssigneeID != nil {
		var as []string
		if err := db.Table("users").Where("id = ?", *d.AssigneeID).Pluck("email", &as).Error; err != nil {
			return nil, fmt.Errorf("load assignee: %w", err)
		}
		if len(as) > 0 {
			d.Assignee = as[0]
		}
	}
	for _, q := range []struct {
		dst   any
		order string
	}{{&d.Reports, "created_at, id"}, {&d.Notes, "created_at, id"}, {&d.Sanctions, "created_at, id"}, {&d.Appeals, "created_at, id"}} {
		if err := db.Where("case_id = ?", id).Order(q.order).Find(q.dst).Error; err != nil {
			return nil, fmt.Errorf("load case %s: %w", id, err)
		}
	}
	if err := db.Where("subject_id = ? AND id <> ?", d.SubjectID, id).Order("first_report_at DESC").Limit(50).Find(&d.Earlier).Error; err != nil {
		return nil, fmt.Errorf("load earlier cases: %w", err)
	}
	if err := db.Where("subject_id = ? AND case_id <> ?", d.SubjectID, id).Order("starts_at DESC").Limit(50).Find(&d.EarlierSanct).Error; err != nil {
		return nil, fmt.Errorf("load earlier sanctions: %w", err)
	}
	now := m.now()
	p, err := rulebook.RulesAt(db, now)
	if err != nil {
		return nil, err
	}
	if d.Strikes, err = strikesTx(db, d.SubjectID, now, p.ModerationStrikeDays); err != nil {
		return nil, err
	}
	d.Ladder = p.Ladder()
	d.Suggested = min(d.Strikes+1, len(p.Ladder()))
	d.SinceFirst = now.Sub(d.FirstReportAt)
	d.SinceFirstS = int64(d.SinceFirst / time.Second)
	if err := db.Table("vms").Select("id, name").Where("owner_id = ? AND state <> ?", d.SubjectID, "deleted").
		Order("LOWER(name), id").Scan(&d.SubjectVMs).Error; err != nil {
		return nil, fmt.Errorf("load vms of the member: %w", err)
	}
	return d, nil
}

// strikesTx counts a member's sanctions that still count: not overturned,
// started within the forgiveness period.
func strikesTx(tx *gorm.DB, subjectID string, now time.Time, days int) (int, error) {
	var n int64
	if err := tx.Model(&Sanction{}).Where("subject_id = ? AND state <> ? AND starts_at > ?", subjectID, SanctionOverturned,
		now.AddDate(0, 0, -days)).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count strikes: %w", err)
	}
	return int(n), nil
}

// loadCaseTx reads a case for a change by staff, locked.
func loadCaseTx(tx *gorm.DB, actor models.Actor, id string) (*Case, error) {
	if err := requireStaffTx(tx, actor); err != nil {
		return nil, err
	}
	var c Case
	if err := kit.First(kit.ForUpdate(tx), &c, id, "case"); err != nil {
		return nil, err
	}
	return &c, nil
}

// touchTx marks the first action on a case (for the time to first action).
func touchTx(tx *gorm.DB, c *Case, now time.Time) error {
	set := map[string]any{"updated_at": now}
	if c.FirstActionAt == nil {
		set["first_action_at"] = now
	}
	if err := tx.Model(&Case{}).Where("id = ?", c.ID).Updates(set).Error; err != nil {
		return fmt.Errorf("update case %s: %w", c.ID, err)
	}
	return nil
}

// Assign gives a case to a moderator (assigneeEmail empty: to oneself).
func (m *Moderation) Assign(ctx context.Context, actor models.Actor, caseID, assigneeEmail string) error {
	return m.db.Tx(ctx, func(tx *gorm.DB) error {
		c, err := loadCaseTx(tx, actor, caseID)
		if err != nil {
			return err
		}
		who := actor.UserID
		if e := strings.TrimSpace(assigneeEmail); e != "" {
			var ids []string
			if err := tx.Table("users").Where("LOWER(email) = LOWER(?)", e).Pluck("id", &ids).Error; err != nil {
				return fmt.Errorf("find assignee: %w", err)
			}
			ok := len(ids) == 1
			if ok {
				if ok, err = isStaffTx(tx, ids[0]); err != nil {
					return err
				}
			}
			if !ok {
				return models.Invalid(map[string]string{"assignee": "Choose a moderator or administrator."})
			}
			who = ids[0]
		}
		now := m.now()
		if err := tx.Model(&Case{}).Where("id = ?", c.ID).Update("assignee_id", who).Error; err != nil {
			return fmt.Errorf("assign case %s: %w", c.ID, err)
		}
		if err := touchTx(tx, c, now); err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "moderation.assign", "moderation_case", c.ID, map[string]any{"assignee_id": who})
	})
}

// AddNote adds an internal note (never shown to the member or reporter).
func (m *Moderation) AddNote(ctx context.Context, actor models.Actor, caseID, body string) error {
	body = strings.TrimSpace(body)
	fields := map[string]string{}
	kit.TextBlock(fields, "body", body, "Write the note.", MaxEvidence)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return m.db.Tx(ctx, func(tx *gorm.DB) error {
		c, err := loadCaseTx(tx, actor, caseID)
		if err != nil {
			return err
		}
		now := m.now()
		if err := addNoteTx(tx, c.ID, NoteNote, actor.Email, models.Verbatim(body), now); err != nil {
			return err
		}
		if err := touchTx(tx, c, now); err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "moderation.note", "moderation_case", c.ID, nil)
	})
}

func addNoteTx(tx *gorm.DB, caseID, kind, author string, body models.Msg, now time.Time) error {
	n := Note{ID: kit.NewID(), CaseID: caseID, Kind: kind, Author: author, Body: body.String(), BodyMsg: body, CreatedAt: now}
	if err := tx.Create(&n).Error; err != nil {
		return fmt.Errorf("add note to case %s: %w", caseID, err)
	}
	return nil
}

// Dismiss closes an open case without a sanction, for a reason.
func (m *Moderation) Dismiss(ctx context.Context, actor models.Actor, caseID, reason string) error {
	return m.close(ctx, actor, caseID, ResolutionDismissed, reason)
}

// Close closes a case in which sanctions were applied.
func (m *Moderation) Close(ctx context.Context, actor models.Actor, caseID, note string) error {
	return m.close(ctx, actor, caseID, ResolutionSanctioned, note)
}

func (m *Moderation) close(ctx context.Context, actor models.Actor, caseID, resolution, reason string) error {
	reason = strings.TrimSpace(reason)
	fields := map[string]string{}
	kit.TextBlock(fields, "reason", reason, "Give the reason.", 2000)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return m.db.Tx(ctx, func(tx *gorm.DB) error {
		c, err := loadCaseTx(tx, actor, caseID)
		if err != nil {
			return err
		}
		if c.State != CaseOpen {
			return models.Conflict("This case is closed already.")
		}
		var n int64
		if err := tx.Model(&Sanction{}).Where("case_id = ? AND state <> ?", c.ID, SanctionOverturned).Count(&n).Error; err != nil {
			return fmt.Errorf("count sanctions: %w", err)
		}
		if resolution == ResolutionDismissed && n > 0 {
			return models.Conflict("Sanctions were applied in this case; close it instead of dismissing it.")
		}
		if resolution == ResolutionSanctioned && n == 0 {
			return models.Conflict("No sanction was applied in this case; dismiss it with a reason instead.")
		}
		now := m.now()
		if err := closeCaseTx(tx, c, resolution, reason, now); err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "moderation."+map[string]string{ResolutionDismissed: "dismiss", ResolutionSanctioned: "close"}[resolution],
			"moderation_case", c.ID, map[string]any{"reason": reason})
	})
}

func closeCaseTx(tx *gorm.DB, c *Case, resolution, note string, now time.Time) error {
	set := map[string]any{"state": CaseClosed, "resolution": resolution, "resolution_note": note, "closed_at": now, "updated_at": now}
	if c.FirstActionAt == nil {
		set["first_action_at"] = now
	}
	if err := tx.Model(&Case{}).Where("id = ?", c.ID).Updates(set).Error; err != nil {
		return fmt.Errorf("close case %s: %w", c.ID, err)
	}
	return nil
}
