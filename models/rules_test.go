package models_test

import (
	"context"
	"testing"
	"time"

	"allmende/models"
)

func TestRulesSeededAndVersioned(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newMEnv(t, db)
		p, err := e.rules.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := models.RuleParams{SharePriceCents: 5000, MinShares: 1, MaxShares: 100, NoticePeriodMonths: 24,
			BusinessYearStartMonth: 1, BusinessYearStartDay: 1, EntitlementPerShare: models.Entitlement{VCPUs: 1, MemoryMiB: 2048, DiskGiB: 20},
			AdmissionApprovals: 2, BylawsVersion: "2026-1", BylawsText: p.BylawsText}
		if p != want || p.BylawsText == "" {
			t.Errorf("seeded rules = %+v", p)
		}

		before := snapshot(t, db)
		from := day(2027, 1, 1)
		for _, c := range []struct{ key, value, field string }{
			{"no_such_rule", "1", "key"},
			{models.RuleNoticePeriodMonths, "2", "value"},
			{models.RuleNoticePeriodMonths, "61", "value"},
			{models.RuleNoticePeriodMonths, "twelve", "value"},
			{models.RuleBusinessYearStart, "02-29", "value"},
			{models.RuleBusinessYearStart, "13-01", "value"},
			{models.RuleAdmissionApprovals, "3", "value"},
			{models.RuleSharePriceCents, "0", "value"},
			{models.RuleMinShares, "101", "value"}, // above the maximum
			{models.RuleBylawsVersion, "", "value"},
		} {
			err := e.rules.Set(ctx, e.board1, c.key, c.value, from, "decision-1")
			fieldErr(t, err, c.field)
		}
		fieldErr(t, e.rules.Set(ctx, e.board1, models.RuleSharePriceCents, "6000", time.Time{}, "decision-1"), "effective_from")
		fieldErr(t, e.rules.Set(ctx, e.board1, models.RuleSharePriceCents, "6000", from, ""), "adopted_by")
		sameSnapshot(t, db, before, "after invalid rules")

		if err := e.rules.Set(ctx, e.board1, models.RuleSharePriceCents, "6000", from, "decision-1"); err != nil {
			t.Fatal(err)
		}
		if err := e.rules.Set(ctx, e.board1, models.RuleBusinessYearStart, "07-01", from, "decision-1"); err != nil {
			t.Fatal(err)
		}
		if p, _ := e.rules.Current(ctx); p.SharePriceCents != 5000 {
			t.Errorf("future rule in force early: %d", p.SharePriceCents)
		}
		if p, _ := e.rules.At(ctx, from.Add(-time.Second)); p.SharePriceCents != 5000 {
			t.Errorf("at the eve: %d", p.SharePriceCents)
		}
		if p, _ := e.rules.At(ctx, from); p.SharePriceCents != 6000 || p.BusinessYearStartMonth != 7 {
			t.Errorf("at the effective date: %+v", p)
		}
		e.clock.Set(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))
		if p, _ := e.rules.Current(ctx); p.SharePriceCents != 6000 {
			t.Errorf("after the date: %d", p.SharePriceCents)
		}
		hist, err := e.rules.History(ctx, models.RuleSharePriceCents)
		if err != nil || len(hist) != 2 || hist[0].AdoptedBy != "initial" || hist[1].AdoptedBy != "decision-1" {
			t.Errorf("history = %+v, %v", hist, err)
		}
		if n := count(t, db, "audit_events", "action = 'rules.set'"); n != 2 {
			t.Errorf("rules.set audits = %d", n)
		}
	})
}
