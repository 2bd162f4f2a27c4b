package moderation_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/moderation"
	"allmende/models/rulebook"
)

// An address a deleted VM held last week and another VM holds now: a
// report for each time resolves to the VM of that time.
func TestAbuseReportResolvesAddressAtTime(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		bob, _ := e.member(t, "bob@example.org")
		old, ip := e.vm(t, alice, "old")
		lastWeek := e.clock.Now()
		e.advance(2 * 24 * time.Hour)
		if _, err := e.vms.Delete(ctx, alice, models.Viewer{UserID: alice.UserID}, old.ID, "old"); err != nil {
			t.Fatal(err)
		}
		if err := e.vms.MarkDeleted(ctx, old.ID); err != nil {
			t.Fatal(err)
		}
		e.advance(5 * 24 * time.Hour)
		now, ip2 := e.vm(t, bob, "new")
		if ip2 != ip {
			t.Fatalf("the new VM got %s, want the reused %s", ip2, ip)
		}
		e.advance(time.Hour)

		r1, err := e.abuse(ip, lastWeek, "spam from this address last week")
		if err != nil {
			t.Fatal(err)
		}
		r2, err := e.abuse(ip, e.clock.Now().Add(-10*time.Minute), "spam from this address now")
		if err != nil {
			t.Fatal(err)
		}
		c1, c2 := e.caseOf(t, r1.Ref), e.caseOf(t, r2.Ref)
		if c1.TargetID != old.ID || c1.SubjectID != alice.UserID {
			t.Errorf("last week's report resolved to %s (%s), want the deleted VM %s of alice", c1.TargetID, c1.SubjectEmail, old.ID)
		}
		if c2.TargetID != now.ID || c2.SubjectID != bob.UserID {
			t.Errorf("today's report resolved to %s (%s), want %s of bob", c2.TargetID, c2.SubjectEmail, now.ID)
		}
		// Before the first VM took the address, nobody held it.
		_, err = e.abuse(ip, lastWeek.Add(-2*time.Hour), "too early")
		if modelstest.FieldErr(t, err, "ip") == "" {
			t.Fatal("an address nobody held then was accepted")
		}
	})
}

// Bad input is a clear field error and writes nothing; an address sending
// too many reports is refused with 429.
func TestAbuseReportBadInput(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		_, ip := e.vm(t, alice, "web")
		seen := e.clock.Now().Add(-time.Minute).Format(time.RFC3339)
		before := modelstest.Snapshot(t, db)
		for _, c := range []struct {
			name, field string
			in          moderation.AbuseInput
		}{
			{"unknown ip", "ip", moderation.AbuseInput{IP: "192.0.2.77", SeenAt: seen, Category: "spam", Evidence: "x"}},
			{"not an ip", "ip", moderation.AbuseInput{IP: "example.org", SeenAt: seen, Category: "spam", Evidence: "x"}},
			{"future time", "seen_at", moderation.AbuseInput{IP: ip, SeenAt: e.clock.Now().Add(time.Hour).Format(time.RFC3339), Category: "spam", Evidence: "x"}},
			{"bad time", "seen_at", moderation.AbuseInput{IP: ip, SeenAt: "yesterday", Category: "spam", Evidence: "x"}},
			{"huge evidence", "evidence", moderation.AbuseInput{IP: ip, SeenAt: seen, Category: "spam", Evidence: strings.Repeat("x", moderation.MaxEvidence+1)}},
			{"bad category", "category", moderation.AbuseInput{IP: ip, SeenAt: seen, Category: "conduct", Evidence: "x"}},
			{"no evidence", "evidence", moderation.AbuseInput{IP: ip, SeenAt: seen, Category: "spam"}},
		} {
			_, err := e.mod.ReportAbuse(ctx, "203.0.113.9", c.in)
			if modelstest.FieldErr(t, err, c.field) == "" {
				t.Errorf("%s: no message on %s (err %v)", c.name, c.field, err)
			}
		}
		modelstest.SameSnapshot(t, db, before, "refused reports")
		for i := range moderation.ExternalPerHour {
			if _, err := e.abuse(ip, e.clock.Now().Add(-time.Minute), "report "+string(rune('a'+i))); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.abuse(ip, e.clock.Now().Add(-time.Minute), "one too many")
		modelstest.WantCode(t, err, http.StatusTooManyRequests)
		e.advance(61 * time.Minute)
		if _, err := e.abuse(ip, e.clock.Now().Add(-time.Minute), "an hour later"); err != nil {
			t.Fatalf("an hour later: %v", err)
		}
	})
}

// Reports about one target join its open case; the reporter sees the
// status, never the member; members report VMs by name or address.
func TestReportsJoinOpenCase(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		carol, _ := e.member(t, "carol@example.org")
		vm, ip := e.vm(t, alice, "web")
		r1, err := e.abuse(ip, e.clock.Now().Add(-time.Minute), "port scans")
		if err != nil {
			t.Fatal(err)
		}
		r2, err := e.mod.Report(ctx, carol, moderation.ReportInput{TargetKind: moderation.TargetVM, Target: "WEB", Category: "attack", Evidence: "it scans me"})
		if err != nil {
			t.Fatal(err)
		}
		r3, err := e.mod.Report(ctx, carol, moderation.ReportInput{TargetKind: moderation.TargetVM, Target: ip, Category: "attack", Evidence: "again"})
		if err != nil {
			t.Fatal(err)
		}
		c := e.caseOf(t, r1.Ref)
		if c.TargetID != vm.ID || len(c.Reports) != 3 || e.caseOf(t, r2.Ref).ID != c.ID || e.caseOf(t, r3.Ref).ID != c.ID {
			t.Fatalf("reports did not join one case: %+v", c.Case)
		}
		st, err := e.mod.Status(ctx, "", r1.Ref)
		if err != nil || st.Status != "received" {
			t.Fatalf("status %+v, %v", st, err)
		}
		// A member's report is the member's: others get not found.
		if _, err := e.mod.Status(ctx, alice.UserID, r2.Ref); !models.IsNotFound(err) {
			t.Fatalf("alice saw carol's report: %v", err)
		}
		if _, err := e.mod.Status(ctx, "", "R-NOSUCHREF"); !models.IsNotFound(err) {
			t.Fatalf("unknown ref: %v", err)
		}
		if err := e.mod.Assign(ctx, e.mod1, c.ID, ""); err != nil {
			t.Fatal(err)
		}
		if st, _ := e.mod.Status(ctx, carol.UserID, r2.Ref); st.Status != "in_review" {
			t.Fatalf("after assignment: %s", st.Status)
		}
		// Alice cannot report herself; a closed case makes the next report open a new one.
		_, err = e.mod.Report(ctx, alice, moderation.ReportInput{TargetKind: moderation.TargetVM, Target: "web", Category: "spam", Evidence: "me"})
		if modelstest.FieldErr(t, err, "target") == "" {
			t.Fatal("self report accepted")
		}
		if err := e.mod.Dismiss(ctx, e.mod1, c.ID, "scanner was a misconfigured backup"); err != nil {
			t.Fatal(err)
		}
		if st, _ := e.mod.Status(ctx, "", r1.Ref); st.Status != "closed_no_action" {
			t.Fatalf("after dismissal: %s", st.Status)
		}
		r4, err := e.abuse(ip, e.clock.Now().Add(-time.Minute), "scans again")
		if err != nil {
			t.Fatal(err)
		}
		c4 := e.caseOf(t, r4.Ref)
		if c4.ID == c.ID || len(c4.Earlier) != 1 {
			t.Fatalf("new report joined a closed case or lost its history: %s, earlier %d", c4.ID, len(c4.Earlier))
		}
		// Members see no panel.
		if _, err := e.mod.Cases(ctx, carol, moderation.CaseFilter{}); err == nil {
			t.Fatal("a member listed cases")
		}
		if _, err := e.mod.Case(ctx, alice, c.ID); err == nil {
			t.Fatal("the subject read the case")
		}
		// Filters.
		mine, err := e.mod.Cases(ctx, e.mod2, moderation.CaseFilter{Mine: true, State: "all"})
		if err != nil || len(mine) != 0 {
			t.Fatalf("mod2's cases: %d, %v", len(mine), err)
		}
		old, err := e.mod.Cases(ctx, e.mod1, moderation.CaseFilter{MinAgeDays: 1})
		if err != nil || len(old) != 0 {
			t.Fatalf("cases older than a day: %d, %v", len(old), err)
		}
		spam, err := e.mod.Cases(ctx, e.mod1, moderation.CaseFilter{Category: "spam", TargetKind: moderation.TargetVM})
		if err != nil || len(spam) != 1 {
			t.Fatalf("open spam cases: %d, %v", len(spam), err)
		}
	})
}

// Throttle, suspension (owner start refused), member suspension (no new
// VMs), lifting; warnings count as strikes.
func TestSanctionEffects(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, av := e.member(t, "alice@example.org")
		vm, ip := e.vm(t, alice, "web")
		r, err := e.abuse(ip, e.clock.Now().Add(-time.Minute), "ddos")
		if err != nil {
			t.Fatal(err)
		}
		c := e.caseOf(t, r.Ref)
		if c.Suggested != 1 {
			t.Fatalf("suggested step %d, want 1", c.Suggested)
		}
		if _, err := e.mod.Sanction(ctx, alice, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionWarning, Reason: "x"}); err == nil {
			t.Fatal("a member sanctioned")
		}
		th, err := e.mod.Sanction(ctx, e.mod1, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionThrottle, Reason: "attack traffic"})
		if err != nil {
			t.Fatal(err)
		}
		if th.Step != 2 || th.EndsAt == nil || th.DiskBytesSec != 1024*1024 || th.CPUPercent != 20 || !strings.Contains(th.RuleText, "moderation_ladder step 2") {
			t.Fatalf("throttle %+v", th)
		}
		eff, err := e.mod.EffectOf(ctx, vm.ID)
		if err != nil || !eff.Throttled() || eff.Locked {
			t.Fatalf("effect %+v, %v", eff, err)
		}
		if n := jobs(t, db, "moderation.enforce"); n != 1 {
			t.Fatalf("%d enforce jobs, want 1", n)
		}
		sv, err := e.mod.Sanction(ctx, e.mod1, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM, Reason: "still attacking"})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.vmRow(t, vm.ID); got.LockedAt == nil {
			t.Fatal("suspended VM not locked")
		}
		e.db.Gorm.Exec("UPDATE vms SET state = 'stopped' WHERE id = ?", vm.ID)
		e.db.Gorm.Exec("UPDATE tasks SET status = 'succeeded' WHERE vm_id = ?", vm.ID)
		_, err = e.vms.Start(ctx, alice, av, vm.ID)
		if de := modelstest.WantCode(t, err, http.StatusConflict); !strings.Contains(de.Safe, "suspended") {
			t.Fatalf("start refused with %q", de.Safe)
		}
		_, err = e.vms.Delete(ctx, alice, av, vm.ID, "web")
		modelstest.WantCode(t, err, http.StatusConflict)
		// Step 4: no new VMs.
		if _, err := e.mod.Sanction(ctx, e.mod1, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendMember, Reason: "repeated"}); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.vms.Create(ctx, alice, av, modelsVMInput(e, "second"))
		modelstest.WantCode(t, err, http.StatusConflict)
		// Lifting the VM suspension keeps the VM locked while the member's holds.
		if err := e.mod.Lift(ctx, e.mod2, sv.ID, "attack stopped"); err != nil {
			t.Fatal(err)
		}
		if got := e.vmRow(t, vm.ID); got.LockedAt == nil {
			t.Fatal("member suspension no longer locks the VM")
		}
		d, _ := e.mod.Case(ctx, e.mod1, c.ID)
		for _, s := range d.Sanctions {
			if s.Kind == rulebook.SanctionSuspendMember {
				if err := e.mod.Lift(ctx, e.mod2, s.ID, "talked"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := e.vmRow(t, vm.ID); got.LockedAt != nil {
			t.Fatal("VM still locked after every suspension ended")
		}
		if _, err := e.vms.Start(ctx, alice, av, vm.ID); err != nil {
			t.Fatalf("start after lifting: %v", err)
		}
		// The throttle ends by itself after its 7 days.
		e.advance(8 * 24 * time.Hour)
		if n, err := e.mod.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("sweep ended %d, %v", n, err)
		}
		if eff, _ := e.mod.EffectOf(ctx, vm.ID); eff.Throttled() {
			t.Fatal("throttle survived its end")
		}
		// Exclusion needs the hearing recorded.
		_, err = e.mod.Sanction(ctx, e.mod1, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionExclusion, Reason: "x"})
		if modelstest.FieldErr(t, err, "heard_note") == "" {
			t.Fatal("exclusion without hearing accepted")
		}
		ex, err := e.mod.Sanction(ctx, e.mod1, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionExclusion, Reason: "x",
			HeardNote: "heard in writing, letter of 2026-05-01, answer of 2026-05-08"})
		if err != nil || ex.State != moderation.SanctionReferred {
			t.Fatalf("exclusion %+v, %v", ex, err)
		}
		d, _ = e.mod.Case(ctx, e.mod1, c.ID)
		if d.State != moderation.CaseClosed || d.Resolution != moderation.ResolutionReferred {
			t.Fatalf("case after exclusion motion: %s %s", d.State, d.Resolution)
		}
		board := user(t, db, "board@example.org", account.RoleBoard)
		ms, err := e.mod.Motions(ctx, board)
		if err != nil || len(ms) != 1 || ms[0].HeardNote == "" || ms[0].SubjectName != "alice" {
			t.Fatalf("board's motions %+v, %v", ms, err)
		}
		if _, err := e.mod.Motions(ctx, alice); err == nil {
			t.Fatal("a member read the motions")
		}
	})
}

// Strikes stop counting after the forgiveness period.
func TestStrikesExpire(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		_, ip := e.vm(t, alice, "web")
		r, _ := e.abuse(ip, e.clock.Now().Add(-time.Minute), "spam")
		c := e.caseOf(t, r.Ref)
		if _, err := e.mod.Sanction(ctx, e.mod1, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionWarning, Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
		if err := e.mod.Close(ctx, e.mod1, c.ID, "warned"); err != nil {
			t.Fatal(err)
		}
		r, _ = e.abuse(ip, e.clock.Now().Add(-time.Minute), "spam again")
		if c := e.caseOf(t, r.Ref); c.Strikes != 1 || c.Suggested != 2 {
			t.Fatalf("strikes %d suggested %d, want 1 and 2", c.Strikes, c.Suggested)
		}
		e.advance(366 * 24 * time.Hour)
		if c := e.caseOf(t, r.Ref); c.Strikes != 0 || c.Suggested != 1 {
			t.Fatalf("after a year: strikes %d suggested %d", c.Strikes, c.Suggested)
		}
	})
}

// An emergency suspension nobody confirms lifts by itself; a confirmed one
// stays; the moderator who applied it cannot confirm it.
func TestEmergencySuspensionLiftsByItself(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		vm, ip := e.vm(t, alice, "web")
		vm2, ip2 := e.vm(t, alice, "db")
		r, _ := e.abuse(ip, e.clock.Now().Add(-time.Minute), "ddos in progress")
		r2, _ := e.abuse(ip2, e.clock.Now().Add(-time.Minute), "ddos in progress too")
		s1, err := e.mod.Sanction(ctx, e.mod1, e.caseOf(t, r.Ref).ID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM, Reason: "ddos", Emergency: true, Days: -1})
		if err != nil {
			t.Fatal(err)
		}
		s2, err := e.mod.Sanction(ctx, e.mod1, e.caseOf(t, r2.Ref).ID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM, Reason: "ddos", Emergency: true, Days: -1})
		if err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.mod.Confirm(ctx, e.mod1, s2.ID), http.StatusForbidden)
		if err := e.mod.Confirm(ctx, e.mod2, s2.ID); err != nil {
			t.Fatal(err)
		}
		e.advance(23 * time.Hour)
		if n, _ := e.mod.Sweep(ctx); n != 0 {
			t.Fatalf("swept %d before the deadline", n)
		}
		e.advance(2 * time.Hour)
		if n, err := e.mod.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("swept %d, %v", n, err)
		}
		if got := e.vmRow(t, vm.ID); got.LockedAt != nil {
			t.Fatal("unconfirmed emergency suspension still locks the VM")
		}
		if got := e.vmRow(t, vm2.ID); got.LockedAt == nil {
			t.Fatal("confirmed suspension lifted")
		}
		d, _ := e.mod.Case(ctx, e.mod1, s1.CaseID)
		if d.Sanctions[0].State != moderation.SanctionEnded || !strings.Contains(d.Sanctions[0].EndReason, "no second moderator") {
			t.Fatalf("sanction after sweep: %+v", d.Sanctions[0])
		}
	})
}

// The member sees own sanctions with evidence but no reporter, appeals
// once within the period; the elected committee decides, but not a member
// of it who acted on the case; overturned undoes the lock.
func TestAppeals(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		bob, _ := e.member(t, "bob@example.org")
		judge, _ := e.member(t, "judge@example.org")
		vm, ip := e.vm(t, alice, "web")
		r, _ := e.abuse(ip, e.clock.Now().Add(-time.Minute), "phishing page at /login")
		c := e.caseOf(t, r.Ref)
		s, err := e.mod.Sanction(ctx, e.mod1, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM, Reason: "phishing"})
		if err != nil {
			t.Fatal(err)
		}
		// The member is told by mail, without the reporter.
		var mails []string
		db.Gorm.Table("river_job").Where("kind = ?", "mail.send").Pluck("args", &mails)
		if len(mails) != 1 || !strings.Contains(mails[0], "alice@example.org") || !strings.Contains(mails[0], "phishing") ||
			strings.Contains(mails[0], "203.0.113.9") {
			t.Fatalf("mails after the sanction: %q", mails)
		}
		mine, err := e.mod.MySanctions(ctx, alice.UserID)
		if err != nil || len(mine) != 1 || !mine[0].CanAppeal || mine[0].VMName != "web" || len(mine[0].Evidence) != 1 {
			t.Fatalf("alice's sanctions %+v, %v", mine, err)
		}
		if others, _ := e.mod.MySanctions(ctx, bob.UserID); len(others) != 0 {
			t.Fatal("bob sees alice's sanctions")
		}
		if _, err := e.mod.FileAppeal(ctx, bob, s.ID, "not mine"); !models.IsNotFound(err) {
			t.Fatalf("bob appealed alice's sanction: %v", err)
		}
		a, err := e.mod.FileAppeal(ctx, alice, s.ID, "the page was a honeypot of my security class")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.mod.FileAppeal(ctx, alice, s.ID, "again")
		modelstest.WantCode(t, err, http.StatusConflict)
		// Not on the committee: refused.
		modelstest.WantCode(t, e.mod.Decide(ctx, judge, a.ID, moderation.DecisionInput{Outcome: "overturned", Reason: "x"}), http.StatusForbidden)
		// On the committee but acted on the case as moderator: refused.
		e.comm[e.mod1.UserID], e.comm[judge.UserID] = true, true
		modelstest.WantCode(t, e.mod.Decide(ctx, e.mod1, a.ID, moderation.DecisionInput{Outcome: "overturned", Reason: "x"}), http.StatusForbidden)
		list, err := e.mod.Appeals(ctx, judge)
		if err != nil || len(list) != 1 || list[0].Conflict {
			t.Fatalf("judge's appeals %+v, %v", list, err)
		}
		if err := e.mod.Decide(ctx, judge, a.ID, moderation.DecisionInput{Outcome: "overturned", Reason: "a teaching honeypot, not phishing"}); err != nil {
			t.Fatal(err)
		}
		if got := e.vmRow(t, vm.ID); got.LockedAt != nil {
			t.Fatal("overturned suspension still locks the VM")
		}
		if n := jobs(t, db, "mail.send"); n != 2 {
			t.Fatalf("%d mails after the decision, want 2", n)
		}
		modelstest.WantCode(t, e.mod.Decide(ctx, judge, a.ID, moderation.DecisionInput{Outcome: "upheld", Reason: "x"}), http.StatusConflict)
		mine, _ = e.mod.MySanctions(ctx, alice.UserID)
		if mine[0].State != moderation.SanctionOverturned || mine[0].Appeal.State != moderation.AppealOverturned {
			t.Fatalf("after the decision: %+v", mine[0])
		}
		// A later sanction's appeal period ends after 14 days.
		s2, err := e.mod.Sanction(ctx, e.mod1, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionWarning, Reason: "be careful"})
		if err != nil {
			t.Fatal(err)
		}
		e.advance(15 * 24 * time.Hour)
		_, err = e.mod.FileAppeal(ctx, alice, s2.ID, "late")
		modelstest.WantCode(t, err, http.StatusConflict)
	})
}

// The quarterly report counts without naming anyone.
func TestQuarterlyReport(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		_, ip := e.vm(t, alice, "web")
		r, _ := e.abuse(ip, e.clock.Now().Add(-time.Minute), "spam")
		c := e.caseOf(t, r.Ref)
		e.advance(2 * time.Hour)
		if _, err := e.mod.Sanction(ctx, e.mod1, c.ID, moderation.SanctionInput{Kind: rulebook.SanctionThrottle, Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
		q, err := e.mod.Quarter(ctx, 2026, 2)
		if err != nil {
			t.Fatal(err)
		}
		if q.ReportsByCategory["spam"] != 1 || q.ExternalReports != 1 || q.SanctionsByStep["2 throttle"] != 1 || q.MedianFirstAction != 2*time.Hour {
			t.Fatalf("quarter %+v", q)
		}
		if _, err := e.mod.Quarter(ctx, 2026, 5); modelstest.FieldErr(t, err, "quarter") == "" {
			t.Fatal("quarter 5 accepted")
		}
		// The report covers the first quarter with data to the current
		// one: no link beyond, and a clear 422 for a quarter outside.
		first, last, err := e.mod.Periods(ctx)
		if want := (moderation.Period{Year: 2026, Quarter: 2}); err != nil || first != want || last != want {
			t.Fatalf("periods %v to %v (%v), want 2026 Q2 for both", first, last, err)
		}
		if q.Prev != nil || q.Next != nil {
			t.Errorf("the only quarter links to %v and %v", q.Prev, q.Next)
		}
		for _, p := range []moderation.Period{{Year: 1999, Quarter: 4}, {Year: 2026, Quarter: 1}, {Year: 2026, Quarter: 3}, {Year: 1 << 40, Quarter: 1}} {
			_, err := e.mod.Quarter(ctx, p.Year, p.Quarter)
			modelstest.WantCode(t, err, http.StatusUnprocessableEntity)
			if msg := modelstest.FieldErr(t, err, "quarter"); !strings.Contains(msg, "the report covers 2026 Q2 to 2026 Q2") {
				t.Errorf("%v: %q", p, msg)
			}
		}
		e.advance(100 * 24 * time.Hour) // into the next quarter
		q, err = e.mod.Quarter(ctx, 2026, 2)
		if err != nil || q.Prev != nil || q.Next == nil || *q.Next != (moderation.Period{Year: 2026, Quarter: 3}) {
			t.Fatalf("2026 Q2 a quarter later: next %v, prev %v (%v)", q.Next, q.Prev, err)
		}
	})
}

func jobs(t *testing.T, db *models.DB, kind string) int64 {
	t.Helper()
	var n int64
	if err := db.Gorm.Table("river_job").Where("kind = ?", kind).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Members report proposals and comments by id; the case names their
// author as the member concerned. Unknown ids and kinds are field errors.
func TestReportProposalAndComment(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		carol, _ := e.member(t, "carol@example.org")
		now := e.clock.Now()
		if err := db.Gorm.Exec("INSERT INTO proposals (id, author_id, title, reasoning, kind, status, created_at) VALUES ('p1', ?, 'Free VMs for all', 'because', 'motion', 'open', ?)",
			alice.UserID, now).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Gorm.Exec("INSERT INTO proposal_comments (id, proposal_id, author_id, text, created_at) VALUES ('c1', 'p1', ?, 'you are all idiots', ?)",
			alice.UserID, now).Error; err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ kind, target, label string }{
			{moderation.TargetProposal, "p1", "Free VMs for all"}, {moderation.TargetComment, "c1", "you are all idiots"}} {
			r, err := e.mod.Report(ctx, carol, moderation.ReportInput{TargetKind: c.kind, Target: c.target, Category: moderation.CategoryConduct, Evidence: "insulting"})
			if err != nil {
				t.Fatal(err)
			}
			d := e.caseOf(t, r.Ref)
			if d.TargetKind != c.kind || d.SubjectID != alice.UserID || d.TargetLabel != c.label || d.VMID != nil {
				t.Errorf("%s case: %+v", c.kind, d.Case)
			}
		}
		before := modelstest.Snapshot(t, db)
		for _, in := range []moderation.ReportInput{
			{TargetKind: moderation.TargetComment, Target: "nope", Category: "conduct", Evidence: "x"},
			{TargetKind: "host", Target: "p1", Category: "conduct", Evidence: "x"},
			{TargetKind: moderation.TargetProposal, Target: "p1", Category: "conduct", Evidence: "bad\x1b[2Jescape"},
		} {
			if _, err := e.mod.Report(ctx, carol, in); err == nil {
				t.Errorf("%+v accepted", in)
			}
		}
		modelstest.SameSnapshot(t, db, before, "refused reports")
	})
}

// The reconciler does not restart a suspended VM it finds stopped (the
// automatic restart would undo the suspension).
func TestSuspendedVMNotRestarted(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		carol, _ := e.member(t, "carol@example.org")
		vm, _ := e.vm(t, alice, "web")
		r, err := e.mod.Report(ctx, carol, moderation.ReportInput{TargetKind: moderation.TargetVM, Target: "web", Category: "malware", Evidence: "c2 traffic"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.mod.Sanction(ctx, e.mod1, e.caseOf(t, r.Ref).ID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM, Reason: "c2"}); err != nil {
			t.Fatal(err)
		}
		if err := e.vms.RecordDrift(ctx, vm.HostID, []compute.ObservedDomain{{Name: vm.DomainName(), Running: false}}); err != nil {
			t.Fatal(err)
		}
		got := e.vmRow(t, vm.ID)
		if got.State != compute.VMStopped || !strings.Contains(got.StateReason, "suspended") {
			t.Fatalf("after an unexpected stop: %s %q", got.State, got.StateReason)
		}
		var open int64
		db.Gorm.Model(&compute.Task{}).Where("vm_id = ? AND status IN ?", vm.ID, []string{"queued", "running"}).Count(&open)
		if open != 0 {
			t.Fatalf("%d tasks started for a suspended VM", open)
		}
	})
}

// Every submission of the abuse form counts against its sender, invalid
// ones too: an address cannot probe which addresses and times resolve to
// a VM. An IPv6 sender counts by its /64. Refused submissions (429) are
// not counted; the sweep forgets the hour's submissions after it.
func TestAbuseAttemptsRateLimited(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		alice, _ := e.member(t, "alice@example.org")
		_, ip := e.vm(t, alice, "web")
		seen := e.clock.Now().Add(-time.Minute).Format(time.RFC3339)
		valid := moderation.AbuseInput{IP: ip, SeenAt: seen, Category: "spam", Evidence: "spam from it"}
		probe := moderation.AbuseInput{IP: "192.0.2.77", SeenAt: seen, Category: "spam", Evidence: "x"}
		for _, sender := range []string{"203.0.113.50", "2001:db8:1:2::1"} {
			for i := range moderation.ExternalAttemptsPerHour {
				_, err := e.mod.ReportAbuse(ctx, sender, probe)
				if modelstest.FieldErr(t, err, "ip") == "" {
					t.Fatalf("%s, probe %d: %v", sender, i, err)
				}
				e.advance(time.Second)
			}
		}
		// Used up: even a valid report is refused, with the time to wait
		// until the first probe leaves the hour.
		for _, sender := range []string{"203.0.113.50", "2001:db8:1:2::99", "::ffff:203.0.113.50"} {
			_, err := e.mod.ReportAbuse(ctx, sender, valid)
			de := modelstest.WantCode(t, err, http.StatusTooManyRequests)
			var th *moderation.AbuseThrottled
			if !errors.As(de, &th) || th.RetryAfter <= 0 || th.RetryAfter > time.Hour {
				t.Fatalf("%s: cause %#v", sender, de.Err)
			}
		}
		if n := modelstest.Count(t, db, "moderation_reports", ""); n != 0 {
			t.Fatalf("%d reports stored", n)
		}
		// Another address, and another /64, are not held up.
		for _, sender := range []string{"203.0.113.51", "2001:db8:1:3::1"} {
			if _, err := e.mod.ReportAbuse(ctx, sender, valid); err != nil {
				t.Fatalf("%s: %v", sender, err)
			}
		}
		// Refusals are not counted: however many, once the probes have
		// left the hour the sender may send again.
		for range 2 * moderation.ExternalAttemptsPerHour {
			_, err := e.mod.ReportAbuse(ctx, "203.0.113.50", probe)
			modelstest.WantCode(t, err, http.StatusTooManyRequests)
		}
		e.advance(time.Hour - 30*time.Second)
		if _, err := e.mod.ReportAbuse(ctx, "203.0.113.50", valid); err != nil {
			t.Fatalf("after the hour: %v", err)
		}
		e.advance(time.Hour)
		if err := e.mod.PruneAbuseAttempts(ctx); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "moderation_abuse_attempts", ""); n != 0 {
			t.Errorf("%d attempts left after the sweep", n)
		}
	})
}
