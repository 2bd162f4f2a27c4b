package moderation

import (
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SanctionInput is a moderator's sanction in a case.
type SanctionInput struct {
	Kind   string // a kind on the ladder in force (rulebook.Sanction*)
	VMID   string // throttle and suspend_vm: which VM ("" = the case's)
	Reason string
	// Days overrides the ladder's default duration of a temporary
	// sanction; 0 keeps it, -1 makes it open-ended (until lifted).
	Days int
	// Emergency: a suspension applied at once by one moderator that lifts
	// by itself unless a second confirms it in time.
	Emergency bool
	// HeardNote records how the member was heard before an exclusion
	// motion goes to the board (required for exclusion).
	HeardNote string
}

// kindMsg is a sanction's kind inside a case-log line, translated where
// it is shown (the English record keeps the kind's name: "throttle
// applied …").
func kindMsg(kind string) models.Msg { return models.Msg{Format: kind} }

// NetworkLimitNote is what a throttle says about the network on hosts
// that cannot limit it (hypervisor.ErrNetworkThrottle).
const NetworkLimitNote = "network bandwidth: not supported on this host"

// Sanction applies a step of the ladder in a case. Its effects (throttle,
// pause and lock, hold) are set in the same transaction and carried out by
// jobs.
func (m *Moderation) Sanction(ctx context.Context, actor models.Actor, caseID string, in SanctionInput) (*Sanction, error) {
	in.Reason, in.HeardNote = strings.TrimSpace(in.Reason), strings.TrimSpace(in.HeardNote)
	fields := map[string]string{}
	if !slices.Contains(rulebook.SanctionKinds, in.Kind) {
		fields["kind"] = "Choose a step of the ladder."
	}
	kit.TextBlock(fields, "reason", in.Reason, "Give the reason the member will read.", 4000)
	if in.Days < -1 || in.Days > 3650 {
		fields["days"] = "Enter 1 to 3650 days, or leave it empty for the ladder's duration."
	}
	if in.Kind == rulebook.SanctionExclusion {
		kit.TextBlock(fields, "heard_note", in.HeardNote, "Record how and when the member was heard; the board cannot proceed without it.", 4000)
	}
	if in.Emergency && in.Kind != rulebook.SanctionSuspendVM {
		fields["emergency"] = "Only a VM suspension may be applied as an emergency."
	}
	if len(fields) > 0 {
		return nil, models.Invalid(fields)
	}
	var out *Sanction
	err := m.db.Tx(ctx, func(tx *gorm.DB) error {
		c, err := loadCaseTx(tx, actor, caseID)
		if err != nil {
			return err
		}
		if c.State != CaseOpen {
			return models.Conflict("This case is closed; sanctions are applied in open cases.")
		}
		now := m.now()
		p, err := rulebook.RulesAt(tx, now)
		if err != nil {
			return err
		}
		step, ls, ok := rulebook.Step(p.Ladder(), in.Kind)
		if !ok {
			return models.Invalidf("kind", "The ladder in force has no step %s.", in.Kind)
		}
		var ver rulebook.RuleVersion
		if err := tx.Where("key = ? AND effective_from <= ?", rulebook.RuleModerationLadder, now).
			Order("effective_from DESC, created_at DESC, id DESC").Limit(1).Find(&ver).Error; err != nil {
			return fmt.Errorf("load ladder version: %w", err)
		}
		s := &Sanction{ID: kit.NewID(), CaseID: c.ID, SubjectID: c.SubjectID, Step: step, Kind: in.Kind, Reason: in.Reason,
			RuleVersionID: ver.ID, RuleText: fmt.Sprintf("%s step %d (%s), adopted by %s, in force since %s", rulebook.RuleModerationLadder,
				step, in.Kind, ver.AdoptedBy, kit.FormatDate(ver.EffectiveFrom)),
			HeardNote: in.HeardNote, State: SanctionActive, StartsAt: now, CreatedBy: actor.UserID, CreatedAt: now}
		if in.Kind == rulebook.SanctionThrottle || in.Kind == rulebook.SanctionSuspendVM {
			vmID := in.VMID
			if vmID == "" && c.VMID != nil {
				vmID = *c.VMID
			}
			var vm compute.VM
			if err := tx.Where("id = ? AND owner_id = ? AND state <> ?", vmID, c.SubjectID, compute.VMDeleted).Limit(1).Find(&vm).Error; err != nil {
				return fmt.Errorf("load vm: %w", err)
			}
			if vm.ID == "" {
				return models.Invalid(map[string]string{"vm_id": "Choose a virtual machine of the member concerned that still exists."})
			}
			s.VMID = &vm.ID
		}
		if in.Kind == rulebook.SanctionThrottle {
			s.DiskBytesSec, s.CPUPercent = int64(p.ModerationThrottleDiskKiB)*1024, p.ModerationThrottleCPUPercent
		}
		days := ls.Days
		if in.Days != 0 {
			days = max(in.Days, 0)
		}
		if days > 0 && in.Kind != rulebook.SanctionWarning && in.Kind != rulebook.SanctionExclusion {
			end := now.AddDate(0, 0, days)
			s.EndsAt = &end
		}
		if in.Emergency {
			by := now.Add(time.Duration(p.ModerationConfirmHours) * time.Hour)
			s.Emergency, s.ConfirmBy = true, &by
		}
		switch in.Kind {
		case rulebook.SanctionWarning:
			s.State = SanctionEnded // a warning is a strike, with no lasting effect
			s.EndReasonMsg = models.Msgf("a warning has no lasting effect")
			s.EndedAt, s.EndReason = &now, s.EndReasonMsg.String()
		case rulebook.SanctionExclusion:
			s.State = SanctionReferred
		}
		if err := tx.Create(s).Error; err != nil {
			return fmt.Errorf("insert sanction: %w", err)
		}
		if in.Kind == rulebook.SanctionExclusion {
			if err := closeCaseTx(tx, c, ResolutionReferred, "motion to exclude handed to the board", now); err != nil {
				return err
			}
		} else if err := touchTx(tx, c, now); err != nil {
			return err
		}
		log := models.Msgf("%s applied (step %d) by %s", kindMsg(in.Kind), step, actor.Email)
		if s.EndsAt != nil {
			log = models.Msgf("%s, until %s", log, models.Moment(*s.EndsAt))
		}
		if s.Emergency {
			log = models.Msgf("%s; emergency: lifts by itself unless a second moderator confirms by %s", log, models.Moment(*s.ConfirmBy))
		}
		if in.Kind == rulebook.SanctionThrottle {
			log = models.Msgf("%s; disk %d KiB/s, CPU %d %%; %s", log, s.DiskBytesSec/1024, s.CPUPercent, models.Msg{Format: NetworkLimitNote})
		}
		if err := addNoteTx(tx, c.ID, NoteLog, "portal", log, now); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "moderation.sanction", "moderation_case", c.ID, map[string]any{
			"sanction_id": s.ID, "kind": s.Kind, "step": step, "vm_id": s.VMID, "ends_at": s.EndsAt, "emergency": s.Emergency}); err != nil {
			return err
		}
		if err := m.applyEffectsTx(ctx, tx, c.ID, s.SubjectID, now); err != nil {
			return err
		}
		if err := m.mailSubjectTx(ctx, tx, s, p.ModerationAppealDays); err != nil {
			return err
		}
		out = s
		return nil
	})
	return out, err
}

// loadSanctionTx reads a sanction locked, with its case.
func loadSanctionTx(tx *gorm.DB, id string) (*Sanction, error) {
	var s Sanction
	if err := kit.First(kit.ForUpdate(tx), &s, id, "sanction"); err != nil {
		return nil, err
	}
	return &s, nil
}

// Confirm is the second moderator's confirmation of an emergency
// suspension; without it the suspension lifts by itself.
func (m *Moderation) Confirm(ctx context.Context, actor models.Actor, sanctionID string) error {
	return m.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireStaffTx(tx, actor); err != nil {
			return err
		}
		s, err := loadSanctionTx(tx, sanctionID)
		if err != nil {
			return err
		}
		switch {
		case !s.Emergency:
			return models.Conflict("Only an emergency suspension needs a confirmation.")
		case s.ConfirmedAt != nil:
			return models.Conflict("This suspension is confirmed already.")
		case s.State != SanctionActive:
			return models.Conflict("This suspension has ended.")
		case s.CreatedBy == actor.UserID:
			return models.Forbidden("A second moderator must confirm; you applied this suspension.")
		}
		now := m.now()
		if err := tx.Model(&Sanction{}).Where("id = ?", s.ID).Updates(map[string]any{"confirmed_by": actor.UserID, "confirmed_at": now}).Error; err != nil {
			return fmt.Errorf("confirm sanction %s: %w", s.ID, err)
		}
		if err := addNoteTx(tx, s.CaseID, NoteLog, "portal", models.Msgf("emergency suspension confirmed by %s", actor.Email), now); err != nil {
			return err
		}
		return kit.RecordAudit(tx, actor, "moderation.confirm", "moderation_case", s.CaseID, map[string]any{"sanction_id": s.ID})
	})
}

// Lift ends an active sanction early (staff), for a reason.
func (m *Moderation) Lift(ctx context.Context, actor models.Actor, sanctionID, reason string) error {
	reason = strings.TrimSpace(reason)
	fields := map[string]string{}
	kit.TextBlock(fields, "reason", reason, "Give the reason for lifting it.", 2000)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return m.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireStaffTx(tx, actor); err != nil {
			return err
		}
		s, err := loadSanctionTx(tx, sanctionID)
		if err != nil {
			return err
		}
		if s.State != SanctionActive {
			return models.Conflict("This sanction is not in force.")
		}
		return m.endTx(ctx, tx, actor, s, SanctionEnded, models.Msgf("lifted by %s: %s", actor.Email, reason), "moderation.lift")
	})
}

// endTx ends a sanction (ended or overturned), logs it on the case and
// undoes its effects by jobs.
func (m *Moderation) endTx(ctx context.Context, tx *gorm.DB, actor models.Actor, s *Sanction, state string, why models.Msg, action string) error {
	now := m.now()
	if err := tx.Model(&Sanction{}).Where("id = ?", s.ID).
		Updates(map[string]any{"state": state, "ended_at": now, "end_reason": why.String(), "end_reason_msg": why}).Error; err != nil {
		return fmt.Errorf("end sanction %s: %w", s.ID, err)
	}
	if err := addNoteTx(tx, s.CaseID, NoteLog, "portal", models.Msgf("%s (step %d) %s: %s", kindMsg(s.Kind), s.Step, models.Msg{Format: state}, why), now); err != nil {
		return err
	}
	if err := kit.RecordAudit(tx, actor, action, "moderation_case", s.CaseID, map[string]any{"sanction_id": s.ID, "state": state, "why": why.String()}); err != nil {
		return err
	}
	return m.applyEffectsTx(ctx, tx, s.CaseID, s.SubjectID, now)
}

var sweepActor = models.SystemActor("moderation.sweep")

// Sweep ends sanctions whose time is up and emergency suspensions that no
// second moderator confirmed in time. The periodic job calls it; it is
// idempotent.
func (m *Moderation) Sweep(ctx context.Context) (int, error) {
	now := m.now()
	var due []string
	if err := m.db.Gorm.WithContext(ctx).Model(&Sanction{}).Where("state = ? AND ((ends_at IS NOT NULL AND ends_at <= ?) OR (emergency = ? AND confirmed_at IS NULL AND confirm_by <= ?))",
		SanctionActive, now, true, now).Order("id").Pluck("id", &due).Error; err != nil {
		return 0, fmt.Errorf("find due sanctions: %w", err)
	}
	n := 0
	for _, id := range due {
		err := m.db.Tx(ctx, func(tx *gorm.DB) error {
			s, err := loadSanctionTx(tx, id)
			if err != nil || s.State != SanctionActive {
				return err
			}
			why := models.Msgf("its time ended")
			if s.Emergency && s.ConfirmedAt == nil && s.ConfirmBy != nil && !s.ConfirmBy.After(now) {
				why = models.Msgf("no second moderator confirmed the emergency suspension in time")
			} else if s.EndsAt == nil || s.EndsAt.After(now) {
				return nil
			}
			n++
			return m.endTx(ctx, tx, sweepActor, s, SanctionEnded, why, "moderation.expire")
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// applyEffectsTx brings compute's locks and holds of a member in line with
// the sanctions in force and queues a job per VM concerned, which sets the
// throttle and the pause on the host.
func (m *Moderation) applyEffectsTx(ctx context.Context, tx *gorm.DB, caseID, subjectID string, now time.Time) error {
	var active []Sanction
	if err := tx.Where("subject_id = ? AND state = ?", subjectID, SanctionActive).Order("starts_at, id").Find(&active).Error; err != nil {
		return fmt.Errorf("load sanctions of %s: %w", subjectID, err)
	}
	var memberHold string
	vmLock := map[string]string{}
	for _, s := range active {
		var ref string
		var refs []string
		if err := tx.Model(&Case{}).Where("id = ?", s.CaseID).Pluck("ref", &refs).Error; err != nil {
			return fmt.Errorf("load case ref: %w", err)
		}
		if len(refs) > 0 {
			ref = refs[0]
		}
		switch s.Kind {
		case rulebook.SanctionSuspendMember:
			memberHold = "moderation case " + ref
		case rulebook.SanctionSuspendVM:
			if s.VMID != nil {
				vmLock[*s.VMID] = "moderation case " + ref
			}
		}
	}
	if err := compute.SetHoldTx(tx, subjectID, memberHold, now); err != nil {
		return err
	}
	vmIDs, err := compute.VMsOfOwnerTx(tx, subjectID)
	if err != nil {
		return err
	}
	var jobs []river.JobArgs
	for _, id := range vmIDs {
		reason := vmLock[id]
		if memberHold != "" {
			reason = memberHold
		}
		if _, err := compute.SetLockTx(tx, id, reason, now); err != nil {
			return err
		}
		jobs = append(jobs, jobargs.ModerationEnforce{VMID: id, CaseID: caseID})
	}
	for _, j := range jobs {
		if _, err := kit.Enqueue(ctx, m.queue, tx, j, &river.InsertOpts{MaxAttempts: 10}); err != nil {
			return err
		}
	}
	return nil
}

// Effect is what the sanctions in force ask of one VM on its host.
type Effect struct {
	Locked       bool
	DiskBytesSec uint64
	CPUPercent   int
	CaseID       string // of the sanction that locks or throttles it
	// Paused says moderation paused the VM's domain (MarkPaused) and has
	// not undone that yet (Unpaused): when no lock is left, the pause is
	// to be undone.
	Paused bool
}

// Throttled reports whether the VM is to be throttled.
func (e Effect) Throttled() bool { return e.DiskBytesSec > 0 || e.CPUPercent > 0 }

// EffectOf reads what the sanctions in force ask of a VM; the enforce job
// and the reconciler apply it.
func (m *Moderation) EffectOf(ctx context.Context, vmID string) (Effect, error) {
	db := m.db.Gorm.WithContext(ctx)
	var vm compute.VM
	if err := kit.First(db, &vm, vmID, "virtual machine"); err != nil {
		return Effect{}, err
	}
	e := Effect{Locked: vm.LockedAt != nil}
	var paused []pause
	if err := db.Where("vm_id = ?", vmID).Limit(1).Find(&paused).Error; err != nil {
		return Effect{}, fmt.Errorf("load pause of vm %s: %w", vmID, err)
	}
	var ss []Sanction
	if err := db.Where("state = ? AND ((kind = ? AND vm_id = ?) OR (kind IN ? AND subject_id = ?))", SanctionActive,
		rulebook.SanctionThrottle, vmID, []string{rulebook.SanctionSuspendVM, rulebook.SanctionSuspendMember}, vm.OwnerID).
		Order("starts_at, id").Find(&ss).Error; err != nil {
		return Effect{}, fmt.Errorf("load sanctions of vm %s: %w", vmID, err)
	}
	for _, s := range ss {
		if s.Kind == rulebook.SanctionThrottle {
			// Several throttles: the strictest limits hold.
			if e.DiskBytesSec == 0 || uint64(s.DiskBytesSec) < e.DiskBytesSec {
				e.DiskBytesSec = uint64(s.DiskBytesSec)
			}
			if e.CPUPercent == 0 || s.CPUPercent < e.CPUPercent {
				e.CPUPercent = s.CPUPercent
			}
		}
		if e.CaseID == "" || s.Kind != rulebook.SanctionThrottle {
			e.CaseID = s.CaseID
		}
	}
	if len(paused) > 0 {
		e.Paused = true
		if e.CaseID == "" { // the sanction that paused it has ended
			e.CaseID = paused[0].CaseID
		}
	}
	return e, nil
}

// Sanctioned lists the VMs of a host that a sanction throttles or locks,
// or whose pause for an ended sanction is still to be undone, for the
// reconciler.
func (m *Moderation) Sanctioned(ctx context.Context, hostID string) ([]string, error) {
	var ids []string
	err := m.db.Gorm.WithContext(ctx).Table("vms").Where(`host_id = ? AND state <> ? AND (locked_at IS NOT NULL
		OR id IN (SELECT vm_id FROM moderation_pauses)
		OR id IN (SELECT vm_id FROM moderation_sanctions WHERE state = ? AND kind = ? AND vm_id IS NOT NULL))`,
		hostID, compute.VMDeleted, SanctionActive, rulebook.SanctionThrottle).Order("id").Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("list sanctioned vms of host %s: %w", hostID, err)
	}
	return ids, nil
}

// LogVM writes a line into the case log of the case that holds a VM (the
// enforce job and the reconciler say what they did), and the audit log.
func (m *Moderation) LogVM(ctx context.Context, caseID, vmID string, line models.Msg) error {
	return m.db.Tx(ctx, func(tx *gorm.DB) error { return m.logVMTx(tx, caseID, vmID, line) })
}

func (m *Moderation) logVMTx(tx *gorm.DB, caseID, vmID string, line models.Msg) error {
	now := m.now()
	if caseID != "" {
		if err := addNoteTx(tx, caseID, NoteLog, "portal", line, now); err != nil {
			return err
		}
	}
	return kit.RecordAudit(tx, models.SystemActor("moderation.enforce"), "moderation.enforce", "vm", vmID,
		map[string]any{"case_id": caseID, "what": line.String()})
}

// pause marks a VM whose domain moderation paused for a sanction.
type pause struct {
	VMID     string `gorm:"column:vm_id;primaryKey"`
	CaseID   string
	PausedAt time.Time
}

func (pause) TableName() string { return "moderation_pauses" }

// MarkPaused records that moderation paused the VM's domain, with the
// case-log line that says so.
func (m *Moderation) MarkPaused(ctx context.Context, caseID, vmID string, line models.Msg) error {
	return m.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&pause{VMID: vmID, CaseID: caseID, PausedAt: m.now()}).Error; err != nil {
			return fmt.Errorf("mark vm %s paused: %w", vmID, err)
		}
		return m.logVMTx(tx, caseID, vmID, line)
	})
}

// Unpaused records that moderation's pause of a VM is undone (or was
// undone by someone else: line is then zero and nothing is logged).
func (m *Moderation) Unpaused(ctx context.Context, caseID, vmID string, line models.Msg) error {
	return m.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("vm_id = ?", vmID).Delete(&pause{}).Error; err != nil {
			return fmt.Errorf("unmark vm %s paused: %w", vmID, err)
		}
		if line.Format == "" {
			return nil
		}
		return m.logVMTx(tx, caseID, vmID, line)
	})
}

// mailSubjectTx queues the member's mail about a sanction in its
// transaction.
func (m *Moderation) mailSubjectTx(ctx context.Context, tx *gorm.DB, s *Sanction, appealDays int) error {
	vmName := ""
	if s.VMID != nil {
		var names []string
		if err := tx.Table("vms").Where("id = ?", *s.VMID).Pluck("name", &names).Error; err != nil {
			return fmt.Errorf("load vm name: %w", err)
		}
		if len(names) > 0 {
			vmName = names[0]
		}
	}
	if err := account.MailTo(ctx, m.queue, tx, s.SubjectID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
		return mailSanction(ctx, r, s, vmName, appealDays)
	}); err != nil {
		return err
	}
	return account.Notify(tx, s.SubjectID, account.KindModeration, "/sanctions",
		models.Msgf("The moderators applied step %d of the ladder of sanctions to you: %s. Why: %s", s.Step, models.Msg{Format: SanctionTitle(s.Kind)}, s.Reason))
}
