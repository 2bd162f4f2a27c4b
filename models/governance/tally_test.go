package governance_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/governance"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func TestMajoritiesTallyAndMinutes(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 9)
		e.SetRule(t, rulebook.RuleElectionMethod, rulebook.ElectionPlurality) // the bylaws' option
		a, items := e.assembly(t, true,
			governance.ItemInput{Title: "Bylaws: 3 yes, 1 no, 5 abstain", Kind: governance.ItemBylawChange},
			governance.ItemInput{Title: "Bylaws: 2 yes, 1 no", Kind: governance.ItemBylawChange},
			governance.ItemInput{Title: "Ordinary: tie", Kind: governance.ItemOrdinary},
			governance.ItemInput{Title: "Ordinary: below quorum", Kind: governance.ItemOrdinary, Quorum: 5},
			governance.ItemInput{Title: "Stricter: 2/3 met", Kind: governance.ItemOrdinary, MajorityNum: 2, MajorityDen: 3},
			governance.ItemInput{Title: "Board", Kind: governance.ItemElection, Seats: 2, Candidates: []string{"Ada", "Grace", "Hedy", "Joan"}},
			governance.ItemInput{Title: "Auditor", Kind: governance.ItemElection, Seats: 1, Candidates: []string{"Kay", "Lin"}},
		)
		votes := []string{
			"yyynaaaaa",
			"yyna_____",
			"yynn_____",
			"yyyn_____",
			"yyn______",
		}
		for i, pattern := range votes {
			for j, c := range pattern {
				choice := map[rune]string{'y': "yes", 'n': "no", 'a': "abstain"}[c]
				if choice != "" {
					e.cast(t, ms[j], a, items[i], choice)
				}
			}
		}
		cand := func(it *governance.AgendaItem, names ...string) governance.BallotInput {
			var ids []string
			for _, c := range it.Candidates {
				if slices.Contains(names, c.Name) {
					ids = append(ids, c.ID)
				}
			}
			return governance.BallotInput{CandidateIDs: ids}
		}
		board, auditor := items[5], items[6]
		_, err := e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, board.ID, cand(board, "Ada", "Grace", "Hedy"))
		modelstest.FieldErr(t, err, "candidates") // more than two seats
		_, err = e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, board.ID, governance.BallotInput{CandidateIDs: []string{auditor.Candidates[0].ID}})
		modelstest.FieldErr(t, err, "candidates") // another election's candidate
		for i, names := range [][]string{{"Ada", "Grace"}, {"Ada", "Hedy"}, {"Ada"}, {"Joan"}, {}} {
			if _, err := e.g.Cast(ctx, ms[i], viewer(ms[i]), a.ID, board.ID, cand(board, names...)); err != nil {
				t.Fatal(err)
			}
		}
		for i, names := range [][]string{{"Kay"}, {"Lin"}} {
			if _, err := e.g.Cast(ctx, ms[i], viewer(ms[i]), a.ID, auditor.ID, cand(auditor, names...)); err != nil {
				t.Fatal(err)
			}
		}

		_, err = e.g.CloseVoting(ctx, ms[0], viewer(ms[0]), a.ID)
		modelstest.WantCode(t, err, http.StatusForbidden)
		res := e.close(t, a)
		want := []struct {
			yes, no, abstain int
			adopted          bool
		}{{3, 1, 5, true}, {2, 1, 1, false}, {2, 2, 0, false}, {3, 1, 0, false}, {2, 1, 0, true}}
		for i, w := range want {
			r := res.Items[i]
			if r.Yes != w.yes || r.No != w.no || r.Abstain != w.abstain || r.Adopted != w.adopted || r.Electorate != 9 {
				t.Errorf("%s: %+v", r.Title, r)
			}
		}
		br := res.Items[5]
		if !slices.Equal(br.Elected, []string{"Ada"}) || !slices.Equal(br.Tie, []string{"Grace", "Hedy", "Joan"}) ||
			br.CandidateVotes["Ada"] != 3 || br.CandidateVotes["Grace"] != 1 || br.Abstain != 1 || br.Cast != 5 || br.Adopted {
			t.Errorf("board election: %+v", br)
		}
		if ar := res.Items[6]; len(ar.Elected) != 0 || len(ar.Tie) != 2 || ar.Adopted {
			t.Errorf("auditor election: %+v", ar)
		}
		for _, b := range br.Ballots {
			if b.Voter == "" || b.Code != "" {
				t.Errorf("named election ballot published as %+v", b)
			}
		}

		// The published file is what the stored ballots give, byte for byte.
		again, err := e.g.Tally(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := e.g.Results(ctx, viewer(ms[3]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.ResultFile, pub.ResultFile) || again.ResultHash != pub.ResultHash || pub.ResultHash != res.ResultHash ||
			!bytes.Equal(res.ResultFile, pub.ResultFile) || len(pub.Items) != 7 || pub.Items[0].Yes != 3 {
			t.Errorf("tally differs from the published file:\n%s\n%s", again.ResultFile, pub.ResultFile)
		}
		d, _ := e.g.Assembly(ctx, viewer(ms[0]), a.ID)
		if d.Status != governance.AssemblyClosed || d.ResultHash != res.ResultHash || d.ClosedAt == nil {
			t.Errorf("closed assembly = %+v", d.Assembly)
		}
		modelstest.WantCode(t, func() error { _, err := e.g.CloseVoting(ctx, e.Board1, e.board, a.ID); return err }(), http.StatusConflict)

		md, err := e.g.Minutes(ctx, viewer(ms[0]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{res.ResultHash, "at least 3/4", "more than half", "**Adopted.**", "**Rejected.**", "**Elected:** Ada", "**Tie**"} {
			if !strings.Contains(md, s) {
				t.Errorf("minutes lack %q:\n%s", s, md)
			}
		}
	})
}

func TestAdoptedRuleChangesTakeEffect(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ada, am := e.Member(t, "ada@example.org", "Ada Lovelace", 2)
		if err := e.Memberships.RecordPayment(ctx, e.Board1, am.ID, 10000, e.Clock.Now(), "transfer"); err != nil {
			t.Fatal(err)
		}
		others := e.members(t, "m", 2)
		from := modelstest.Day(2026, 5, 1)
		params, err := e.g.Submit(ctx, ada, viewer(ada), governance.ProposalInput{Title: "Four CPUs per share", Reasoning: "New hosts.",
			Kind: "parameters", Parameters: map[string]string{rulebook.RuleEntitlementVCPUs: "4", rulebook.RuleEntitlementDisk: "40"}, EffectiveFrom: from})
		if err != nil {
			t.Fatal(err)
		}
		text, err := e.g.Submit(ctx, ada, viewer(ada), governance.ProposalInput{Title: "Quiet hours", Reasoning: "Sleep.",
			Kind: "text", RuleKey: rulebook.RuleHouseRulesText, NewText: "No backups at night.\nBe kind.", EffectiveFrom: from})
		if err != nil {
			t.Fatal(err)
		}
		rejected, err := e.g.Submit(ctx, ada, viewer(ada), governance.ProposalInput{Title: "One approval", Reasoning: "Faster.",
			Kind: "parameters", Parameters: map[string]string{rulebook.RuleAdmissionApprovals: "1"}, EffectiveFrom: from})
		if err != nil {
			t.Fatal(err)
		}
		a, items := e.assembly(t, true,
			governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: params.ID},
			governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: text.ID},
			governance.ItemInput{Kind: governance.ItemBylawChange, ProposalID: rejected.ID})
		for _, who := range append(others, ada) {
			e.cast(t, who, a, items[0], "yes")
			e.cast(t, who, a, items[1], "yes")
		}
		e.cast(t, ada, a, items[2], "yes")
		e.cast(t, others[0], a, items[2], "no")
		e.Clock.Set(e.Clock.Now().Add(24 * time.Hour))
		e.close(t, a)

		hist, err := e.g.RuleHistory(ctx, rulebook.RuleEntitlementVCPUs)
		if err != nil || len(hist) != 2 || hist[1].AdoptedBy != items[0].ID || !hist[1].EffectiveFrom.Equal(from) || hist[1].Value != "4" {
			t.Fatalf("history = %+v, %v", hist, err)
		}
		if p, _ := e.Rules.At(ctx, from.Add(-time.Second)); p.EntitlementPerShare.VCPUs != 1 {
			t.Errorf("before the date: %+v", p.EntitlementPerShare)
		}
		if p, _ := e.Rules.At(ctx, from); p.EntitlementPerShare.VCPUs != 4 || p.EntitlementPerShare.DiskGiB != 40 {
			t.Errorf("from the date: %+v", p.EntitlementPerShare)
		}
		if p, _ := e.Rules.At(ctx, from); p.AdmissionApprovals != 1 { // the test env set 1 itself; the rejected proposal changed nothing
			t.Errorf("approvals = %d", p.AdmissionApprovals)
		}
		if h, _ := e.g.RuleHistory(ctx, rulebook.RuleAdmissionApprovals); slices.ContainsFunc(h, func(v rulebook.RuleVersion) bool { return v.AdoptedBy == items[2].ID }) {
			t.Errorf("a rejected proposal changed a rule: %+v", h)
		}
		ent := compute.MembershipEntitlements{Memberships: e.Memberships}
		if got, _ := ent.Entitlement(ctx, ada.UserID); got.VCPUs != 2 {
			t.Errorf("entitlement before the date = %+v", got)
		}
		e.Clock.Set(from.Add(time.Hour))
		if got, _ := ent.Entitlement(ctx, ada.UserID); got.VCPUs != 8 || got.DiskGiB != 80 {
			t.Errorf("entitlement after the date = %+v", got)
		}
		if o := e.Overview(t, ada.UserID); o.Entitlement.VCPUs != 8 {
			t.Errorf("overview entitlement = %+v", o.Entitlement)
		}

		reg, err := e.g.Registry(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var house governance.RuleInfo
		for _, r := range reg {
			if r.Key == rulebook.RuleHouseRulesText {
				house = r
			}
		}
		if house.Kind != governance.RuleKindText || house.Versions != 2 || house.AdoptedBy != items[1].ID || !strings.HasPrefix(house.Value, "No backups") || house.Title == "" {
			t.Errorf("house rules = %+v", house)
		}
		for _, id := range []string{params.ID, text.ID} {
			if p, _ := e.g.Proposal(ctx, viewer(ada), id); p.Status != governance.ProposalAdopted {
				t.Errorf("proposal %s = %s", id, p.Status)
			}
		}
		if p, _ := e.g.Proposal(ctx, viewer(ada), rejected.ID); p.Status != governance.ProposalRejected {
			t.Errorf("rejected proposal = %s", p.Status)
		}
	})
}
