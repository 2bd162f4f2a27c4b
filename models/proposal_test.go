package models_test

import (
	"context"
	"net/http"
	"testing"

	"allmende/models"
)

func TestProposalValidation(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		m := e.members(t, "m", 1)[0]
		outsider := e.user(t, "outsider@example.org")
		from := day(2026, 6, 1)

		before := count(t, db, "proposals", "")
		for _, c := range []struct {
			in    models.ProposalInput
			field string
		}{
			{models.ProposalInput{Title: "More CPUs", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{models.RuleEntitlementVCPUs: "5000"}, EffectiveFrom: from}, "param:entitlement_vcpus"},
			{models.ProposalInput{Title: "More CPUs", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{models.RuleEntitlementVCPUs: "two"}, EffectiveFrom: from}, "param:entitlement_vcpus"},
			{models.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{"no_such": "1"}, EffectiveFrom: from}, "param:no_such"},
			{models.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{models.RuleMinShares: "200"}, EffectiveFrom: from}, "param:min_shares"},
			{models.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{models.RuleProxyMaxRepresented: "3"}, EffectiveFrom: from}, "param:proxy_max_represented"},
			{models.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{models.RuleEntitlementVCPUs: "2"}}, "effective_from"},
			{models.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{models.RuleEntitlementVCPUs: "2"}, EffectiveFrom: day(2026, 1, 1)}, "effective_from"},
			{models.ProposalInput{Title: "x", Reasoning: "r", Kind: "text", RuleKey: models.RuleMinShares, NewText: "x", EffectiveFrom: from}, "rule_key"},
			{models.ProposalInput{Title: "x", Reasoning: "r", Kind: "text", RuleKey: models.RuleHouseRulesText, EffectiveFrom: from}, "new_text"},
			{models.ProposalInput{Title: "", Reasoning: "r", Kind: "motion"}, "title"},
			{models.ProposalInput{Title: "x", Reasoning: "r", Kind: "decree"}, "kind"},
		} {
			_, err := e.g.Submit(ctx, m, viewer(m), c.in)
			fieldErr(t, err, c.field)
		}
		_, err := e.g.Submit(ctx, outsider, viewer(outsider), models.ProposalInput{Title: "x", Reasoning: "r", Kind: "motion"})
		wantCode(t, err, http.StatusForbidden)
		if n := count(t, db, "proposals", ""); n != before {
			t.Fatalf("invalid proposals saved: %d", n-before)
		}

		p, err := e.g.Submit(ctx, m, viewer(m), models.ProposalInput{Title: " Two CPUs per share ", Reasoning: "Cheap now.", Kind: "parameters",
			Parameters: map[string]string{models.RuleEntitlementVCPUs: " 2 "}, EffectiveFrom: from})
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != "Two CPUs per share" || p.Parameters[models.RuleEntitlementVCPUs] != "2" || !p.EffectiveFrom.Equal(from) ||
			p.Status != models.ProposalSubmitted || p.AuthorName == "" {
			t.Errorf("proposal = %+v", p)
		}
		list, err := e.g.Proposals(ctx, viewer(m))
		if err != nil || len(list) != 1 || list[0].ID != p.ID {
			t.Errorf("proposals = %+v, %v", list, err)
		}
		_, err = e.g.Proposals(ctx, viewer(outsider))
		wantCode(t, err, http.StatusForbidden)
	})
}

func TestProposalSupportAndPlacement(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 25) // 10 % of 25 members: 3 supporters
		p, err := e.g.Submit(ctx, ms[0], viewer(ms[0]), models.ProposalInput{Title: "Open the books", Reasoning: "Transparency.", Kind: "motion"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.g.Comment(ctx, ms[1], viewer(ms[1]), p.ID, " Agreed! "); err != nil {
			t.Fatal(err)
		}
		fieldErr(t, e.g.Comment(ctx, ms[1], viewer(ms[1]), p.ID, "  "), "text")

		for i := 0; i < 2; i++ {
			if err := e.g.Support(ctx, ms[i], viewer(ms[i]), p.ID); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, e.g.Support(ctx, ms[0], viewer(ms[0]), p.ID), http.StatusConflict)
		d, err := e.g.Proposal(ctx, viewer(ms[0]), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Supporters != 2 || d.SupportNeeded != 3 || d.MustBePlaced || !d.SupportedByViewer ||
			len(d.Comments) != 1 || d.Comments[0].Text != "Agreed!" || d.Comments[0].AuthorName != "m 1" {
			t.Errorf("detail = %+v", d)
		}
		if err := e.g.Support(ctx, ms[2], viewer(ms[2]), p.ID); err != nil {
			t.Fatal(err)
		}
		if d, _ = e.g.Proposal(ctx, viewer(ms[3]), p.ID); !d.MustBePlaced || d.SupportedByViewer {
			t.Errorf("after 3 supporters: %+v", d)
		}

		now := e.clock.Now()
		a, err := e.g.CreateAssembly(ctx, e.board1, e.board, models.AssemblyInput{Title: "GA", Form: models.FormHybrid,
			VotingStart: now.AddDate(0, 1, 0), VotingEnd: now.AddDate(0, 1, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ad, err := e.g.Assembly(ctx, e.board, a.ID)
		if err != nil || len(ad.MustPlace) != 1 || ad.MustPlace[0].ID != p.ID {
			t.Fatalf("must place = %+v, %v", ad, err)
		}
		it, err := e.g.AddItem(ctx, e.board1, e.board, a.ID, models.ItemInput{Kind: models.ItemOrdinary, ProposalID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if it.Title != "Open the books" || it.MajorityNum != 1 || it.MajorityDen != 2 || it.Position != 1 {
			t.Errorf("item = %+v", it)
		}
		_, err = e.g.AddItem(ctx, e.board1, e.board, a.ID, models.ItemInput{Kind: models.ItemOrdinary, ProposalID: p.ID})
		wantCode(t, err, http.StatusConflict)
		if ad, _ = e.g.Assembly(ctx, e.board, a.ID); len(ad.MustPlace) != 0 {
			t.Errorf("placed proposal still must be placed: %+v", ad.MustPlace)
		}
		if d, _ = e.g.Proposal(ctx, viewer(ms[3]), p.ID); d.Status != models.ProposalOnAgenda || d.MustBePlaced {
			t.Errorf("placed: %+v", d)
		}
		wantCode(t, e.g.Support(ctx, ms[3], viewer(ms[3]), p.ID), http.StatusConflict)
	})
}

func TestDiff(t *testing.T) {
	got := models.Diff("a\nb\nc\nd\n", "a\nc\nx\nd\ne")
	want := []models.DiffLine{{' ', "a"}, {'-', "b"}, {' ', "c"}, {'+', "x"}, {' ', "d"}, {'+', "e"}}
	if len(got) != len(want) {
		t.Fatalf("diff = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("diff = %q, want %q", got, want)
		}
	}
	if d := models.Diff("", "x"); len(d) != 1 || d[0].Op != '+' {
		t.Errorf("from empty: %q", d)
	}
	if d := models.Diff("same", "same"); len(d) != 1 || d[0].Op != ' ' {
		t.Errorf("same: %q", d)
	}
}
