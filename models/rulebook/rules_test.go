package rulebook_test

import (
	"context"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func TestRulesSeededAndVersioned(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		p, err := e.Rules.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := rulebook.RuleParams{SharePriceCents: 5000, MinShares: 1, MaxShares: 100, NoticePeriodMonths: 24,
			BusinessYearStartMonth: 1, BusinessYearStartDay: 1, EntitlementPerShare: rulebook.Entitlement{VCPUs: 1, MemoryMiB: 2048, DiskGiB: 20},
			AdmissionApprovals: 2, BylawsVersion: "2026-1", BylawsText: p.BylawsText, ReplicationIntervalSeconds: 300,
			Prices: rulebook.Prices{VCPUHourMillicents: 300, MemoryGiBHourMillicents: 200, DiskGiBMonthCents: 4},

			ModerationLadder: "warning, throttle:7d, suspend_vm:30d, suspend_member:90d, exclusion", ModerationStrikeDays: 365,
			ModerationConfirmHours: 24, ModerationAppealDays: 14, ModerationThrottleDiskKiB: 1024, ModerationThrottleCPUPercent: 20,
			SupervisoryBoard: true, ExclusionReasons: p.ExclusionReasons, ExclusionBody: "board", ExclusionHearingDays: 14, CompulsoryShares: 0, AdditionalContributions: "none"}
		if p != want || p.BylawsText == "" || len(p.Reasons()) != 4 {
			t.Errorf("seeded rules = %+v", p)
		}

		before := modelstest.Snapshot(t, db)
		from := modelstest.Day(2027, 1, 1)
		for _, c := range []struct{ key, value, field string }{
			{"no_such_rule", "1", "key"},
			{rulebook.RuleNoticePeriodMonths, "2", "value"},
			{rulebook.RuleNoticePeriodMonths, "61", "value"},
			{rulebook.RuleNoticePeriodMonths, "twelve", "value"},
			{rulebook.RuleBusinessYearStart, "02-29", "value"},
			{rulebook.RuleBusinessYearStart, "13-01", "value"},
			{rulebook.RuleAdmissionApprovals, "3", "value"},
			{rulebook.RuleSharePriceCents, "0", "value"},
			{rulebook.RuleMinShares, "101", "value"}, // above the maximum
			{rulebook.RuleBylawsVersion, "", "value"},
		} {
			err := e.Rules.Set(ctx, e.Board1, c.key, c.value, from, "decision-1")
			modelstest.FieldErr(t, err, c.field)
		}
		modelstest.FieldErr(t, e.Rules.Set(ctx, e.Board1, rulebook.RuleSharePriceCents, "6000", time.Time{}, "decision-1"), "effective_from")
		modelstest.FieldErr(t, e.Rules.Set(ctx, e.Board1, rulebook.RuleSharePriceCents, "6000", from, ""), "adopted_by")
		modelstest.SameSnapshot(t, db, before, "after invalid rules")

		if err := e.Rules.Set(ctx, e.Board1, rulebook.RuleSharePriceCents, "6000", from, "decision-1"); err != nil {
			t.Fatal(err)
		}
		if err := e.Rules.Set(ctx, e.Board1, rulebook.RuleBusinessYearStart, "07-01", from, "decision-1"); err != nil {
			t.Fatal(err)
		}
		if p, _ := e.Rules.Current(ctx); p.SharePriceCents != 5000 {
			t.Errorf("future rule in force early: %d", p.SharePriceCents)
		}
		if p, _ := e.Rules.At(ctx, from.Add(-time.Second)); p.SharePriceCents != 5000 {
			t.Errorf("at the eve: %d", p.SharePriceCents)
		}
		if p, _ := e.Rules.At(ctx, from); p.SharePriceCents != 6000 || p.BusinessYearStartMonth != 7 {
			t.Errorf("at the effective date: %+v", p)
		}
		e.Clock.Set(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))
		if p, _ := e.Rules.Current(ctx); p.SharePriceCents != 6000 {
			t.Errorf("after the date: %d", p.SharePriceCents)
		}
		hist, err := e.Rules.History(ctx, rulebook.RuleSharePriceCents)
		if err != nil || len(hist) != 2 || hist[0].AdoptedBy != "initial" || hist[1].AdoptedBy != "decision-1" {
			t.Errorf("history = %+v, %v", hist, err)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'rules.set'"); n != 2 {
			t.Errorf("rules.set audits = %d", n)
		}
	})
}
