package moderation

import (
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// MemberSanction is a sanction as its member sees it: what, why, the
// evidence without the reporters, the rule, the end, and the appeal.
type MemberSanction struct {
	Sanction
	CaseRef     string    `json:"case_ref"`
	Category    string    `json:"category"`
	VMName      string    `json:"vm_name,omitempty"`
	Evidence    []string  `json:"evidence"`
	Appeal      *Appeal   `json:"appeal,omitempty"`
	AppealUntil time.Time `json:"appeal_until"`
	CanAppeal   bool      `json:"can_appeal"`
}

// MySanctions lists the sanctions of the signed-in member, newest first.
func (m *Moderation) MySanctions(ctx context.Context, userID string) ([]MemberSanction, error) {
	db := m.db.Gorm.WithContext(ctx)
	var ss []Sanction
	if err := db.Where("subject_id = ?", userID).Order("starts_at DESC, id DESC").Find(&ss).Error; err != nil {
		return nil, fmt.Errorf("list sanctions: %w", err)
	}
	now := m.now()
	out := make([]MemberSanction, 0, len(ss))
	for _, s := range ss {
		ms, err := m.memberView(db, s, now)
		if err != nil {
			return nil, err
		}
		out = append(out, *ms)
	}
	return out, nil
}

func (m *Moderation) memberView(db *gorm.DB, s Sanction, now time.Time) (*MemberSanction, error) {
	ms := &MemberSanction{Sanction: s}
	var c Case
	if err := kit.First(db, &c, s.CaseID, "case"); err != nil {
		return nil, err
	}
	ms.CaseRef, ms.Category = c.Ref, c.Category
	if s.VMID != nil {
		var names []string
		if err := db.Table("vms").Where("id = ?", *s.VMID).Pluck("name", &names).Error; err != nil {
			return nil, fmt.Errorf("load vm name: %w", err)
		}
		if len(names) > 0 {
			ms.VMName = names[0]
		}
	}
	// Only the evidence: never who reported it, nor from where.
	if err := db.Model(&Report{}).Where("case_id = ?", c.ID).Order("created_at, id").Pluck("evidence", &ms.Evidence).Error; err != nil {
		return nil, fmt.Errorf("load evidence: %w", err)
	}
	var as []Appeal
	if err := db.Where("sanction_id = ?", s.ID).Limit(1).Find(&as).Error; err != nil {
		return nil, fmt.Errorf("load appeal: %w", err)
	}
	if len(as) > 0 {
		ms.Appeal = &as[0]
	}
	p, err := rulebook.RulesAt(db, s.StartsAt)
	if err != nil {
		return nil, err
	}
	ms.AppealUntil = s.StartsAt.AddDate(0, 0, p.ModerationAppealDays)
	ms.CanAppeal = ms.Appeal == nil && now.Before(ms.AppealUntil) && s.State != SanctionOverturned
	return ms, nil
}

// FileAppeal appeals a sanction of one's own, once, within the appeal
// period, with a statement.
func (m *Moderation) FileAppeal(ctx context.Context, actor models.Actor, sanctionID, statement string) (*Appeal, error) {
	statement = strings.TrimSpace(statement)
	fields := map[string]string{}
	kit.TextBlock(fields, "statement", statement, "Say why the sanction should be reconsidered.", MaxEvidence)
	if len(fields) > 0 {
		return nil, models.Invalid(fields)
	}
	var out *Appeal
	err := m.db.Tx(ctx, func(tx *gorm.DB) error {
		s, err := loadSanctionTx(tx, sanctionID)
		if err != nil || s.SubjectID != actor.UserID {
			return models.NotFoundError("sanction")
		}
		now := m.now()
		ms, err := m.memberView(tx, *s, now)
		if err != nil {
			return err
		}
		switch {
		case ms.Appeal != nil:
			return models.Conflict("You have appealed this sanction already; a sanction can be appealed once.")
		case s.State == SanctionOverturned:
			return models.Conflict("This sanction has been overturned.")
		case !now.Before(ms.AppealUntil):
			return models.Conflictf("The appeal period of this sanction ended on %s.", kit.DateOf(ms.AppealUntil))
		}
		a := &Appeal{ID: kit.NewID(), SanctionID: s.ID, CaseID: s.CaseID, AppellantID: actor.UserID, Statement: statement,
			State: AppealPending, CreatedAt: now}
		if err := tx.Create(a).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("You have appealed this sanction already; a sanction can be appealed once.")
			}
			return fmt.Errorf("insert appeal: %w", err)
		}
		if err := addNoteTx(tx, s.CaseID, NoteLog, "portal", models.Msgf("the member appealed %s (step %d)", kindMsg(s.Kind), s.Step), now); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "moderation.appeal", "moderation_case", s.CaseID, map[string]any{"appeal_id": a.ID, "sanction_id": s.ID}); err != nil {
			return err
		}
		out = a
		return nil
	})
	return out, err
}

// AppealRow is an appeal as the committee sees it.
type AppealRow struct {
	Appeal
	Sanction Sanction `gorm:"-" json:"sanction"`
	CaseRef  string   `json:"case_ref"`
	Category string   `json:"category"`
	Evidence []string `gorm:"-" json:"evidence"`
	Conflict bool     `gorm:"-" json:"conflict"` // the viewer acted on the case: may not decide
}

// Appeals lists the appeals for the committee (pending first). Only a
// member of the appeals committee in office sees them.
func (m *Moderation) Appeals(ctx context.Context, actor models.Actor) ([]AppealRow, error) {
	db := m.db.Gorm.WithContext(ctx)
	now := m.now()
	if ok, err := m.committee.InOffice(db, actor.UserID, now); err != nil {
		return nil, err
	} else if !ok {
		return nil, models.Forbidden("Only members of the elected appeals committee in office decide appeals.")
	}
	rows := []AppealRow{}
	if err := db.Table("moderation_appeals AS a").Select("a.*, c.ref AS case_ref, c.category").
		Joins("JOIN moderation_cases c ON c.id = a.case_id").
		Order("CASE WHEN a.state = 'pending' THEN 0 ELSE 1 END, a.created_at").Limit(500).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list appeals: %w", err)
	}
	for i := range rows {
		if err := kit.First(db, &rows[i].Sanction, rows[i].SanctionID, "sanction"); err != nil {
			return nil, err
		}
		if err := db.Model(&Report{}).Where("case_id = ?", rows[i].CaseID).Order("created_at, id").Pluck("evidence", &rows[i].Evidence).Error; err != nil {
			return nil, fmt.Errorf("load evidence: %w", err)
		}
		acted, err := actedTx(db, actor.UserID, rows[i].CaseID)
		if err != nil {
			return nil, err
		}
		rows[i].Conflict = acted
	}
	return rows, nil
}

// actedTx reports whether a user acted on a case (any audited step of the
// panel: assignment, note, sanction, confirmation, lift, dismissal).
func actedTx(tx *gorm.DB, userID, caseID string) (bool, error) {
	var n int64
	if err := tx.Table("audit_events").Where("target_type = ? AND target_id = ? AND actor_id = ? AND action <> ?",
		"moderation_case", caseID, userID, "moderation.report").Count(&n).Error; err != nil {
		return false, fmt.Errorf("check who acted on case %s: %w", caseID, err)
	}
	return n > 0, nil
}

// DecisionInput is the committee's decision on an appeal.
type DecisionInput struct {
	Outcome string // upheld | reduced | overturned
	Reason  string
	// EndsOn: a reduced sanction's new end (YYYY-MM-DD), before its old
	// one; today or earlier ends it now.
	EndsOn string
}

// Decide decides an appeal. The decider must sit on the elected appeals
// committee and must not have acted on the case. An overturned sanction
// ends and its effects are undone by jobs; a reduced one ends earlier.
func (m *Moderation) Decide(ctx context.Context, actor models.Actor, appealID string, in DecisionInput) error {
	in.Reason = strings.TrimSpace(in.Reason)
	fields := map[string]string{}
	if !slices.Contains([]string{AppealUpheld, AppealReduced, AppealOverturned}, in.Outcome) {
		fields["outcome"] = "Choose upheld, reduced or overturned."
	}
	kit.TextBlock(fields, "reason", in.Reason, "Give the reason of the decision.", 4000)
	var newEnd time.Time
	if in.Outcome == AppealReduced {
		t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(in.EndsOn), time.UTC)
		if err != nil {
			fields["ends_on"] = "Enter the new end as YYYY-MM-DD."
		}
		newEnd = t
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return m.db.Tx(ctx, func(tx *gorm.DB) error {
		now := m.now()
		ok, err := m.committee.InOffice(tx, actor.UserID, now)
		if err != nil {
			return err
		}
		if !ok {
			return models.Forbidden("Only members of the elected appeals committee in office decide appeals.")
		}
		var a Appeal
		if err := kit.First(kit.ForUpdate(tx), &a, appealID, "appeal"); err != nil {
			return err
		}
		if a.State != AppealPending {
			return models.Conflict("This appeal has been decided already.")
		}
		acted, err := actedTx(tx, actor.UserID, a.CaseID)
		if err != nil {
			return err
		}
		if acted {
			return models.Forbidden("You acted on this case as a moderator, so you cannot decide its appeal.")
		}
		s, err := loadSanctionTx(tx, a.SanctionID)
		if err != nil {
			return err
		}
		if in.Outcome == AppealReduced {
			if s.State != SanctionActive || s.EndsAt == nil {
				// An open-ended or ended sanction is reduced by a date too.
				if s.State != SanctionActive {
					return models.Invalid(map[string]string{"outcome": "This sanction is no longer in force; uphold or overturn it."})
				}
			} else if !newEnd.Before(*s.EndsAt) {
				return models.Invalidf("ends_on", "A reduced sanction must end before %s.", kit.DateOf(*s.EndsAt))
			}
		}
		if err := tx.Model(&Appeal{}).Where("id = ?", a.ID).Updates(map[string]any{"state": in.Outcome, "decided_by": actor.UserID,
			"decided_at": now, "decision": in.Reason}).Error; err != nil {
			return fmt.Errorf("decide appeal %s: %w", a.ID, err)
		}
		if err := kit.RecordAudit(tx, actor, "moderation.appeal_decided", "moderation_appeal", a.ID,
			map[string]any{"case_id": a.CaseID, "sanction_id": s.ID, "outcome": in.Outcome}); err != nil {
			return err
		}
		if err := account.MailTo(ctx, m.queue, tx, a.AppellantID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
			return mailDecision(ctx, r, &a, in.Outcome, in.Reason)
		}); err != nil {
			return err
		}
		if err := account.Notify(tx, a.AppellantID, account.KindModeration, "/sanctions",
			models.Msgf("The appeals committee has decided your appeal: %s. Reason: %s", models.Msg{Format: AppealOutcomeTitle(in.Outcome)}, in.Reason)); err != nil {
			return err
		}
		switch in.Outcome {
		case AppealOverturned:
			if s.State == SanctionActive || s.State == SanctionEnded || s.State == SanctionReferred {
				return m.endTx(ctx, tx, actor, s, SanctionOverturned, models.Msgf("overturned on appeal: %s", in.Reason), "moderation.overturn")
			}
		case AppealReduced:
			if !newEnd.After(now) {
				return m.endTx(ctx, tx, actor, s, SanctionEnded, models.Msgf("reduced on appeal: %s", in.Reason), "moderation.reduce")
			}
			if err := tx.Model(&Sanction{}).Where("id = ?", s.ID).Update("ends_at", newEnd).Error; err != nil {
				return fmt.Errorf("reduce sanction %s: %w", s.ID, err)
			}
			return addNoteTx(tx, s.CaseID, NoteLog, "portal", models.Msgf("reduced on appeal: now ends %s", kit.DateOf(newEnd)), now)
		case AppealUpheld:
			return addNoteTx(tx, s.CaseID, NoteLog, "portal", models.Msgf("upheld on appeal"), now)
		}
		return nil
	})
}

// Motion is a motion to exclude that moderation handed to the board, with
// the record that the member was heard.
type Motion struct {
	Sanction
	CaseRef     string `json:"case_ref"`
	SubjectName string `json:"subject_name"`
	// MembershipID is the member's latest membership, for the board's
	// register page, where the exclusion is decided.
	MembershipID string `json:"membership_id"`
}

// Motions lists the motions to exclude for the board (and the panel),
// newest first. The board decides the exclusion itself (§68 GenG) in the
// membership register.
func (m *Moderation) Motions(ctx context.Context, actor models.Actor) ([]Motion, error) {
	db := m.db.Gorm.WithContext(ctx)
	staff, err := isStaffTx(db, actor.UserID)
	if err != nil {
		return nil, err
	}
	board, err := account.UserHasRole(db, actor.UserID, account.RoleBoard)
	if err != nil {
		return nil, err
	}
	if !staff && !board {
		return nil, models.Forbidden("Only the board and the moderators see motions to exclude.")
	}
	out := []Motion{}
	if err := db.Table("moderation_sanctions AS s").Select(`s.*, c.ref AS case_ref, u.name AS subject_name,
		COALESCE((SELECT m.id FROM memberships m WHERE m.user_id = s.subject_id ORDER BY m.id DESC LIMIT 1), '') AS membership_id`).
		Joins("JOIN moderation_cases c ON c.id = s.case_id").Joins("JOIN users u ON u.id = s.subject_id").
		Where("s.kind = ?", rulebook.SanctionExclusion).Order("s.starts_at DESC").Limit(200).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list motions: %w", err)
	}
	return out, nil
}
