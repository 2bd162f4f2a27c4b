package moderation

import (
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/internal/kit"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ReportInput is a member's report.
type ReportInput struct {
	TargetKind string // vm | member | proposal | comment
	// Target names it: a VM's name or IP address, a member's email
	// address, a proposal's or comment's id.
	Target   string
	Category string
	Evidence string
}

// AbuseInput is an external abuse report (no account).
type AbuseInput struct {
	IP       string // the offending address
	SeenAt   string // when it was seen: RFC 3339, or YYYY-MM-DDTHH:MM in UTC
	Category string
	Evidence string
	Email    string // optional: where the abuse desk may be reached
}

// Receipt is what a reporter gets back: the reference and the status
// address. It never names the member.
type Receipt struct {
	Ref    string `json:"ref"`
	Status string `json:"status"`
}

// target is what a report resolved to.
type target struct {
	kind, id, label, subjectID string
	vmID                       *string
}

// Report files a member's report.
func (m *Moderation) Report(ctx context.Context, actor models.Actor, in ReportInput) (*Receipt, error) {
	in.Target, in.Evidence = strings.TrimSpace(in.Target), strings.TrimSpace(in.Evidence)
	fields := map[string]string{}
	if !slices.Contains(TargetKinds, in.TargetKind) {
		fields["target_kind"] = "Choose what you report: a virtual machine, a member, a proposal or a comment."
	}
	kit.TextField(fields, "target", in.Target, "Name what you report.", 320)
	category := categoryProblem(in.Category, MemberCategories)
	kit.TextBlock(fields, "evidence", in.Evidence, "Describe what happened.", MaxEvidence)
	if len(fields) > 0 || category != nil {
		return nil, invalidWith(fields, "category", category)
	}
	if actor.UserID == "" {
		return nil, models.Forbidden("Sign in to report.")
	}
	var rec *Receipt
	err := m.db.Tx(ctx, func(tx *gorm.DB) error {
		now := m.now()
		t, err := m.resolveTx(tx, in.TargetKind, in.Target, now)
		if err != nil {
			return err
		}
		if t.subjectID == actor.UserID {
			return models.Invalid(map[string]string{"target": "You cannot report yourself."})
		}
		r := &Report{Source: SourceMember, ReporterID: &actor.UserID, ReporterIP: actor.IP, Category: in.Category, Evidence: in.Evidence}
		rec, err = m.fileTx(ctx, tx, actor, t, r, now)
		return err
	})
	return rec, err
}

// ReportAbuse files an external abuse report. The address and time
// resolve to the VM that held the address then (compute's history), which
// survives the VM's deletion and the address's reuse. The reporter learns
// only the reference and, later, the status.
func (m *Moderation) ReportAbuse(ctx context.Context, fromIP string, in AbuseInput) (*Receipt, error) {
	in.IP, in.Evidence, in.Email = strings.TrimSpace(in.IP), strings.TrimSpace(in.Evidence), strings.TrimSpace(in.Email)
	now := m.now()
	if err := m.countAbuseAttempt(ctx, senderKey(fromIP), now); err != nil {
		return nil, err
	}
	fields := map[string]string{}
	addr, err := netip.ParseAddr(in.IP)
	if err != nil {
		fields["ip"] = "Enter the offending IP address, e.g. 192.0.2.10."
	}
	seen, msg := parseSeenAt(in.SeenAt, now)
	if msg != "" {
		fields["seen_at"] = msg
	}
	category := categoryProblem(in.Category, ExternalCategories)
	kit.TextBlock(fields, "evidence", in.Evidence, "Paste the evidence: log lines, headers, what you saw.", MaxEvidence)
	if in.Email != "" {
		kit.TextField(fields, "email", in.Email, "", 254)
		if _, ok := fields["email"]; !ok && (!strings.Contains(in.Email, "@") || strings.ContainsAny(in.Email, " <>")) {
			fields["email"] = "Enter an email address, or leave it empty."
		}
	}
	if len(fields) > 0 || category != nil {
		return nil, invalidWith(fields, "category", category)
	}
	actor := models.Actor{Email: "external:abuse", IP: fromIP}
	var rec *Receipt
	err = m.db.Tx(ctx, func(tx *gorm.DB) error {
		var recent []time.Time
		if err := tx.Model(&Report{}).Where("source = ? AND reporter_ip = ? AND created_at > ?", SourceExternal, fromIP, now.Add(-abuseWindow)).
			Order("created_at DESC").Limit(ExternalPerHour).Pluck("created_at", &recent).Error; err != nil {
			return fmt.Errorf("count reports of %s: %w", fromIP, err)
		}
		if len(recent) >= ExternalPerHour {
			return abuseThrottled(len(recent), "reports", recent[len(recent)-1], now)
		}
		h, ok, err := compute.HolderAt(tx, addr.String(), seen)
		if err != nil {
			return err
		}
		if !ok {
			return models.Invalid(map[string]string{"ip": "No virtual machine of this cooperative held this address at that time. Check the address and the time (UTC)."})
		}
		vmID := h.VMID
		t := target{kind: TargetVM, id: h.VMID, label: h.VMName, subjectID: h.OwnerID, vmID: &vmID}
		r := &Report{Source: SourceExternal, ReporterIP: fromIP, ReporterEmail: in.Email, Category: in.Category,
			OffendingIP: addr.String(), SeenAt: &seen, Evidence: in.Evidence}
		rec, err = m.fileTx(ctx, tx, actor, t, r, now)
		return err
	})
	return rec, err
}

// parseSeenAt reads the time an address was seen; it may not lie in the
// future (a minute's clock skew aside).
func parseSeenAt(v string, now time.Time) (time.Time, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, "Enter when the address was seen (UTC)."
	}
	var t time.Time
	var err error
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05"} {
		if t, err = time.ParseInLocation(layout, v, time.UTC); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, "Enter the time as 2026-01-31T14:05 (UTC) or in RFC 3339."
	}
	if t.After(now.Add(time.Minute)) {
		return time.Time{}, "This time lies in the future."
	}
	if t.Before(now.AddDate(-2, 0, 0)) {
		return time.Time{}, "This time lies more than two years back; such reports cannot be followed up."
	}
	return t.UTC(), ""
}

// categoryProblem is the message for a category not among allowed, nil
// for an allowed one. It lists the allowed ones, for API clients.
func categoryProblem(c string, allowed []string) *models.Msg {
	if slices.Contains(allowed, c) {
		return nil
	}
	m := models.Msgf("Choose a category: %s.", strings.Join(allowed, ", "))
	return &m
}

// invalidWith is models.Invalid for fields of fixed messages plus one
// field (when m is not nil) whose message has parts filled in, so that the
// web layer translates each.
func invalidWith(fields map[string]string, name string, m *models.Msg) *models.Error {
	msgs := make(map[string]models.Msg, len(fields)+1)
	for k, v := range fields {
		msgs[k] = models.Msg{Format: v}
	}
	if m != nil {
		msgs[name] = *m
	}
	return models.InvalidMsgs(msgs)
}

// resolveTx finds what a member's report names.
func (m *Moderation) resolveTx(tx *gorm.DB, kind, name string, now time.Time) (target, error) {
	bad := func(msg string) (target, error) { return target{}, models.Invalid(map[string]string{"target": msg}) }
	switch kind {
	case TargetVM:
		if addr, err := netip.ParseAddr(name); err == nil {
			h, ok, err := compute.HolderAt(tx, addr.String(), now)
			if err != nil {
				return target{}, err
			}
			if !ok || h.Deleted {
				return bad("No virtual machine of ours holds this address.")
			}
			id := h.VMID
			return target{kind: kind, id: h.VMID, label: h.VMName, subjectID: h.OwnerID, vmID: &id}, nil
		}
		var vms []compute.VM
		if err := tx.Where("LOWER(name) = LOWER(?) AND state <> ?", name, compute.VMDeleted).Limit(2).Find(&vms).Error; err != nil {
			return target{}, fmt.Errorf("find vm %q: %w", name, err)
		}
		switch len(vms) {
		case 0:
			return bad("No virtual machine has this name; give its name or its IP address.")
		case 2:
			return bad("Several virtual machines have this name; give its IP address instead.")
		}
		id := vms[0].ID
		return target{kind: kind, id: id, label: vms[0].Name, subjectID: vms[0].OwnerID, vmID: &id}, nil
	case TargetMember:
		var users []struct{ ID, Name string }
		if err := tx.Table("users").Select("id, name").Where("LOWER(email) = LOWER(?)", name).Limit(1).Scan(&users).Error; err != nil {
			return target{}, fmt.Errorf("find member: %w", err)
		}
		if len(users) == 0 {
			return bad("No member has this email address.")
		}
		return target{kind: kind, id: users[0].ID, label: users[0].Name, subjectID: users[0].ID}, nil
	case TargetProposal, TargetComment:
		table, col, what, missing := "proposals", "title", "proposal", "No proposal has this id."
		if kind == TargetComment {
			table, col, what, missing = "proposal_comments", "text", "comment", "No comment has this id."
		}
		var rows []struct{ ID, AuthorID, Label string }
		if err := tx.Table(table).Select("id, author_id, "+col+" AS label").Where("id = ?", name).Limit(1).Scan(&rows).Error; err != nil {
			return target{}, fmt.Errorf("find %s: %w", what, err)
		}
		if len(rows) == 0 {
			return bad(missing)
		}
		return target{kind: kind, id: rows[0].ID, label: kit.Truncate(rows[0].Label, 80), subjectID: rows[0].AuthorID}, nil
	}
	return bad("Unknown kind of report.")
}

// fileTx stores a report in the open case of its target, opening one if
// there is none.
func (m *Moderation) fileTx(ctx context.Context, tx *gorm.DB, actor models.Actor, t target, r *Report, now time.Time) (*Receipt, error) {
	c, opened, err := openCaseTx(tx, t, r.Category, now)
	if err != nil {
		return nil, err
	}
	r.ID, r.Ref, r.CaseID, r.CreatedAt = kit.NewID(), newRef("R", 16), c.ID, now
	if err := tx.Create(r).Error; err != nil {
		return nil, fmt.Errorf("insert report: %w", err)
	}
	detail := map[string]any{"report_id": r.ID, "source": r.Source, "category": r.Category, "opened": opened}
	if r.OffendingIP != "" {
		detail["ip"], detail["seen_at"] = r.OffendingIP, r.SeenAt
	}
	if err := kit.RecordAudit(tx, actor, "moderation.report", "moderation_case", c.ID, detail); err != nil {
		return nil, err
	}
	return &Receipt{Ref: r.Ref, Status: "/reports/" + r.Ref}, nil
}

// openCaseTx returns the open case of a target, or opens one.
func openCaseTx(tx *gorm.DB, t target, category string, now time.Time) (*Case, bool, error) {
	var cs []Case
	if err := kit.ForUpdate(tx).Where("target_kind = ? AND target_id = ? AND state = ?", t.kind, t.id, CaseOpen).Limit(1).Find(&cs).Error; err != nil {
		return nil, false, fmt.Errorf("find open case: %w", err)
	}
	if len(cs) > 0 {
		return &cs[0], false, nil
	}
	c := &Case{ID: kit.NewID(), Ref: newRef("C", 5), TargetKind: t.kind, TargetID: t.id, TargetLabel: t.label, SubjectID: t.subjectID,
		VMID: t.vmID, Category: category, State: CaseOpen, FirstReportAt: now, CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(c).Error; err != nil {
		if kit.IsUniqueViolation(err) {
			return nil, false, models.Conflict("Another report about the same target arrived at the same moment; please send yours again.")
		}
		return nil, false, fmt.Errorf("open case: %w", err)
	}
	return c, true, nil
}

var refEncoding = base32.NewEncoding("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").WithPadding(base32.NoPadding)

// newRef makes a reference: n random bytes in an alphabet without 0/O and
// 1/I. A report's reference (16 bytes) is the reporter's only key to its
// status, so it must not be guessable.
func newRef(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + "-" + refEncoding.EncodeToString(b)
}

// ReportStatus is what a reporter sees: never the member, the VM's name
// or the sanction.
type ReportStatus struct {
	Ref        string    `json:"ref"`
	Category   string    `json:"category"`
	Received   time.Time `json:"received_at"`
	Status     string    `json:"status"` // received | in_review | action_taken | closed_no_action
	StatusText string    `json:"status_text"`
}

// Status reads a report's status by its reference. A member's report is
// shown only to the member who filed it; an external one to whoever holds
// the reference.
func (m *Moderation) Status(ctx context.Context, viewerID, ref string) (*ReportStatus, error) {
	db := m.db.Gorm.WithContext(ctx)
	var r Report
	err := db.Where("ref = ?", strings.TrimSpace(ref)).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && r.Source == SourceMember && (r.ReporterID == nil || *r.ReporterID != viewerID)) {
		return nil, models.NotFoundError("report")
	}
	if err != nil {
		return nil, fmt.Errorf("load report: %w", err)
	}
	var c Case
	if err := kit.First(db, &c, r.CaseID, "case"); err != nil {
		return nil, err
	}
	var sanctions int64
	if err := db.Model(&Sanction{}).Where("case_id = ? AND state <> ?", c.ID, SanctionOverturned).Count(&sanctions).Error; err != nil {
		return nil, fmt.Errorf("count sanctions: %w", err)
	}
	s := &ReportStatus{Ref: r.Ref, Category: r.Category, Received: r.CreatedAt}
	switch {
	case sanctions > 0 || c.Resolution == ResolutionReferred:
		s.Status, s.StatusText = "action_taken", "The moderators have acted on this report."
	case c.State == CaseClosed:
		s.Status, s.StatusText = "closed_no_action", "The moderators looked into this report and took no action."
	case c.AssigneeID != nil || c.FirstActionAt != nil:
		s.Status, s.StatusText = "in_review", "A moderator is looking into this report."
	default:
		s.Status, s.StatusText = "received", "The report has been received and waits for a moderator."
	}
	return s, nil
}

// MyReports lists the reports a member filed, newest first, with status.
func (m *Moderation) MyReports(ctx context.Context, userID string) ([]ReportStatus, error) {
	var refs []string
	if err := m.db.Gorm.WithContext(ctx).Model(&Report{}).Where("reporter_id = ?", userID).Order("created_at DESC").Limit(100).
		Pluck("ref", &refs).Error; err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	out := make([]ReportStatus, 0, len(refs))
	for _, ref := range refs {
		s, err := m.Status(ctx, userID, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, nil
}
