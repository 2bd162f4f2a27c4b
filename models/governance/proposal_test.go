package governance_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func TestProposalValidation(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		m := e.members(t, "m", 1)[0]
		outsider := e.User(t, "outsider@example.org")
		from := modelstest.Day(2026, 6, 1)

		before := modelstest.Count(t, db, "proposals", "")
		for _, c := range []struct {
			in    governance.ProposalInput
			field string
		}{
			{governance.ProposalInput{Title: "More CPUs", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{rulebook.RuleEntitlementVCPUs: "5000"}, EffectiveFrom: from}, "param:entitlement_vcpus"},
			{governance.ProposalInput{Title: "More CPUs", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{rulebook.RuleEntitlementVCPUs: "two"}, EffectiveFrom: from}, "param:entitlement_vcpus"},
			{governance.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{"no_such": "1"}, EffectiveFrom: from}, "param:no_such"},
			{governance.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{rulebook.RuleMinShares: "200"}, EffectiveFrom: from}, "param:min_shares"},
			{governance.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{rulebook.RuleProxyMaxRepresented: "3"}, EffectiveFrom: from}, "param:proxy_max_represented"},
			{governance.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{rulebook.RuleEntitlementVCPUs: "2"}}, "effective_from"},
			{governance.ProposalInput{Title: "x", Reasoning: "r", Kind: "parameters", Parameters: map[string]string{rulebook.RuleEntitlementVCPUs: "2"}, EffectiveFrom: modelstest.Day(2026, 1, 1)}, "effective_from"},
			{governance.ProposalInput{Title: "x", Reasoning: "r", Kind: "text", RuleKey: rulebook.RuleMinShares, NewText: "x", EffectiveFrom: from}, "rule_key"},
			{governance.ProposalInput{Title: "x", Reasoning: "r", Kind: "text", RuleKey: rulebook.RuleHouseRulesText, EffectiveFrom: from}, "new_text"},
			{governance.ProposalInput{Title: "", Reasoning: "r", Kind: "motion"}, "title"},
			{governance.ProposalInput{Title: "x", Reasoning: "r", Kind: "decree"}, "kind"},
		} {
			_, err := e.g.Submit(ctx, m, viewer(m), c.in)
			modelstest.FieldErr(t, err, c.field)
		}
		_, err := e.g.Submit(ctx, outsider, viewer(outsider), governance.ProposalInput{Title: "x", Reasoning: "r", Kind: "motion"})
		modelstest.WantCode(t, err, http.StatusForbidden)
		if n := modelstest.Count(t, db, "proposals", ""); n != before {
			t.Fatalf("invalid proposals saved: %d", n-before)
		}

		p, err := e.g.Submit(ctx, m, viewer(m), governance.ProposalInput{Title: " Two CPUs per share ", Reasoning: "Cheap now.", Kind: "parameters",
			Parameters: map[string]string{rulebook.RuleEntitlementVCPUs: " 2 "}, EffectiveFrom: from})
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != "Two CPUs per share" || p.Parameters[rulebook.RuleEntitlementVCPUs] != "2" || !p.EffectiveFrom.Equal(from) ||
			p.Status != governance.ProposalSubmitted || p.AuthorName == "" {
			t.Errorf("proposal = %+v", p)
		}
		list, err := e.g.Proposals(ctx, viewer(m))
		if err != nil || len(list) != 1 || list[0].ID != p.ID {
			t.Errorf("proposals = %+v, %v", list, err)
		}
		_, err = e.g.Proposals(ctx, viewer(outsider))
		modelstest.WantCode(t, err, http.StatusForbidden)
	})
}

func TestProposalSupportAndPlacement(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 25) // 10 % of 25 members: 3 supporters
		p, err := e.g.Submit(ctx, ms[0], viewer(ms[0]), governance.ProposalInput{Title: "Open the books", Reasoning: "Transparency.", Kind: "motion"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.g.Comment(ctx, ms[1], viewer(ms[1]), p.ID, " Agreed! "); err != nil {
			t.Fatal(err)
		}
		modelstest.FieldErr(t, e.g.Comment(ctx, ms[1], viewer(ms[1]), p.ID, "  "), "text")

		for i := 0; i < 2; i++ {
			if err := e.g.Support(ctx, ms[i], viewer(ms[i]), p.ID); err != nil {
				t.Fatal(err)
			}
		}
		modelstest.WantCode(t, e.g.Support(ctx, ms[0], viewer(ms[0]), p.ID), http.StatusConflict)
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

		now := e.Clock.Now()
		a, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA", Form: governance.FormHybrid,
			Place: "Town hall", AccessDetails: "https://meet.example.org/ga", VotingStart: now.AddDate(0, 1, 0), VotingEnd: now.AddDate(0, 1, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ad, err := e.g.Assembly(ctx, e.board, a.ID)
		if err != nil || len(ad.MustPlace) != 1 || ad.MustPlace[0].ID != p.ID {
			t.Fatalf("must place = %+v, %v", ad, err)
		}
		// No invitation while a demanded proposal is missing (§45(2) GenG).
		if _, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, motion("Annual accounts")); err != nil {
			t.Fatal(err)
		}
		err = e.g.SendInvitations(ctx, e.Board1, e.board, a.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		if err == nil || !strings.Contains(err.Error(), "Open the books") {
			t.Errorf("refusal = %v", err)
		}
		it, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if it.Title != "Open the books" || it.MajorityNum != 1 || it.MajorityDen != 2 || it.Position != 2 {
			t.Errorf("item = %+v", it)
		}
		_, err = e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: p.ID})
		modelstest.WantCode(t, err, http.StatusConflict)
		if ad, _ = e.g.Assembly(ctx, e.board, a.ID); len(ad.MustPlace) != 0 {
			t.Errorf("placed proposal still must be placed: %+v", ad.MustPlace)
		}
		if d, _ = e.g.Proposal(ctx, viewer(ms[3]), p.ID); d.Status != governance.ProposalOnAgenda || d.MustBePlaced {
			t.Errorf("placed: %+v", d)
		}
		modelstest.WantCode(t, e.g.Support(ctx, ms[3], viewer(ms[3]), p.ID), http.StatusConflict)
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDiff(t *testing.T) {
	got := governance.Diff("a\nb\nc\nd\n", "a\nc\nx\nd\ne")
	want := []governance.DiffLine{{' ', "a"}, {'-', "b"}, {' ', "c"}, {'+', "x"}, {' ', "d"}, {'+', "e"}}
	if len(got) != len(want) {
		t.Fatalf("diff = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("diff = %q, want %q", got, want)
		}
	}
	if d := governance.Diff("", "x"); len(d) != 1 || d[0].Op != '+' {
		t.Errorf("from empty: %q", d)
	}
	if d := governance.Diff("same", "same"); len(d) != 1 || d[0].Op != ' ' {
		t.Errorf("same: %q", d)
	}
}
