package governance_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func TestAssemblyCreationAndItems(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		m := e.members(t, "m", 2)
		now := e.Clock.Now()

		_, err := e.g.CreateAssembly(ctx, m[0], viewer(m[0]), governance.AssemblyInput{Title: "GA", Form: governance.FormVirtual,
			VotingStart: now.AddDate(0, 0, 20), VotingEnd: now.AddDate(0, 0, 21)})
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, err = e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA", Form: governance.FormTwoPhase,
			VotingStart: now.AddDate(0, 0, 20), VotingEnd: now.AddDate(0, 0, 21)})
		modelstest.FieldErr(t, err, "discussion_start")
		_, err = e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA", Form: governance.FormTwoPhase,
			DiscussionStart: now.AddDate(0, 0, 10), DiscussionEnd: now.AddDate(0, 0, 25),
			VotingStart: now.AddDate(0, 0, 20), VotingEnd: now.AddDate(0, 0, 21)})
		modelstest.FieldErr(t, err, "discussion_end")
		_, err = e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA", Form: "carrier pigeon",
			VotingStart: now.AddDate(0, 0, 21), VotingEnd: now.AddDate(0, 0, 20)})
		modelstest.FieldErr(t, err, "form")
		modelstest.FieldErr(t, err, "voting_end")

		// Two-phase, discussion starting in 10 days: short notice.
		a, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA 2026", Form: governance.FormTwoPhase,
			AccessDetails: "https://meet.example.org/ga", DiscussionForm: "A forum per agenda item in the portal.", DiscussionStart: now.AddDate(0, 0, 10), DiscussionEnd: now.AddDate(0, 0, 17),
			VotingStart: now.AddDate(0, 0, 20), VotingEnd: now.AddDate(0, 0, 21)})
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != governance.AssemblyPlanned || a.InvitedAt != nil {
			t.Errorf("assembly = %+v", a)
		}
		for _, c := range []struct {
			in    governance.ItemInput
			field string
		}{
			{governance.ItemInput{Title: "Bylaws", Kind: governance.ItemBylawChange, MajorityNum: 2, MajorityDen: 3}, "majority"},
			{governance.ItemInput{Title: "Duty", Kind: governance.ItemBylawNewDuty, MajorityNum: 3, MajorityDen: 4}, "majority"},
			{governance.ItemInput{Title: "x", Kind: governance.ItemOrdinary, MajorityNum: 3, MajorityDen: 2}, "majority"},
			{governance.ItemInput{Title: "x", Kind: "whim"}, "kind"},
			{governance.ItemInput{Title: "Board", Kind: governance.ItemElection, Seats: 0}, "seats"},
			{governance.ItemInput{Title: "Board", Kind: governance.ItemElection, Seats: 1, Candidates: []string{"A", "A"}}, "candidates"},
			{governance.ItemInput{Title: "x", Kind: governance.ItemOrdinary, ExcludedUserIDs: []string{"nobody"}}, "excluded"},
		} {
			_, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, c.in)
			modelstest.FieldErr(t, err, c.field)
		}
		// A proposal changing the bylaws needs a bylaw vote.
		p, err := e.g.Submit(ctx, m[0], viewer(m[0]), governance.ProposalInput{Title: "Cheaper shares", Reasoning: "r", Kind: "parameters",
			Parameters: map[string]string{rulebook.RuleSharePriceCents: "2500"}, EffectiveFrom: modelstest.Day(2026, 7, 1)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: p.ID})
		modelstest.FieldErr(t, err, "kind")

		stricter, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Kind: governance.ItemBylawChange, ProposalID: p.ID, MajorityNum: 4, MajorityDen: 5, Quorum: 3})
		if err != nil {
			t.Fatal(err)
		}
		if stricter.MajorityNum != 4 || stricter.MajorityDen != 5 || stricter.Quorum != 3 || stricter.ProposalID != p.ID {
			t.Errorf("item = %+v", stricter)
		}
		discharge, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Title: "Discharge of the board", Kind: governance.ItemOrdinary,
			ExcludedUserIDs: []string{e.Board1.UserID}})
		if err != nil {
			t.Fatal(err)
		}
		election, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Title: "Supervisory board", Kind: governance.ItemElection,
			Seats: 2, Candidates: []string{"Ada", " Grace ", "", "Hedy"}, Secret: true})
		if err != nil {
			t.Fatal(err)
		}
		if discharge.Position != 2 || election.Position != 3 || len(election.Candidates) != 3 || election.Candidates[1].Name != "Grace" {
			t.Errorf("items = %+v / %+v", discharge, election)
		}

		modelstest.WantCode(t, e.g.OpenVoting(ctx, e.Board1, e.board, a.ID), http.StatusConflict) // not invited yet
		d, err := e.g.Assembly(ctx, viewer(m[1]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Items) != 3 || d.NoticeWarning.Format == "" || d.Turnout != nil {
			t.Errorf("detail = %+v", d)
		}
		// Short notice is refused, not warned about (§46(1) GenG).
		err = e.g.SendInvitations(ctx, e.Board1, e.board, a.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		if !strings.Contains(err.Error(), "at least 14") {
			t.Errorf("refusal = %v", err)
		}
		for _, who := range m {
			if n := modelstest.Mails(t, db, who.Email); n != 0 {
				t.Errorf("%s got %d invitations", who.Email, n)
			}
		}

		// With enough notice: 18 days ahead, received after 3, leaves 14.
		b, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA 2027", Form: governance.FormInPerson,
			Place: "Hall 1, Hauptstraße 1, Berlin", VotingStart: now.AddDate(0, 0, 18), VotingEnd: now.AddDate(0, 0, 18).Add(3 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.g.AddItem(ctx, e.Board1, e.board, b.ID, motion("Annual accounts")); err != nil {
			t.Fatal(err)
		}
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, b.ID); err != nil {
			t.Fatal(err)
		}
		for _, who := range m {
			if n := modelstest.Mails(t, db, who.Email); n != 1 {
				t.Errorf("%s got %d invitations", who.Email, n)
			}
		}
		if n := modelstest.Mails(t, db, e.Board2.Email); n != 0 { // not a member
			t.Errorf("board member without membership invited")
		}
		modelstest.WantCode(t, e.g.SendInvitations(ctx, e.Board1, e.board, b.ID), http.StatusConflict)
		_, err = e.g.AddItem(ctx, e.Board1, e.board, b.ID, motion("Late item"))
		modelstest.WantCode(t, err, http.StatusConflict)
		list, err := e.g.Assemblies(ctx, viewer(m[0]))
		if err != nil || len(list) != 2 {
			t.Errorf("assemblies = %+v, %v", list, err)
		}
	})
}

func TestElectorateFixedAtOpening(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 3)
		a, items := e.assembly(t, false, motion("Annual accounts"))
		it := items[0]
		_, err := e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, it.ID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusConflict) // not open yet
		if err := e.g.OpenVoting(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.g.OpenVoting(ctx, e.Board1, e.board, a.ID), http.StatusConflict)

		late, _ := e.Member(t, "late@example.org", "Late Comer", 1) // admitted after the opening
		e.Clock.Set(e.Clock.Now().Add(time.Hour))
		_, err = e.g.Cast(ctx, late, viewer(late), a.ID, it.ID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, err = e.g.Cast(ctx, e.Board2, viewer(e.Board2), a.ID, it.ID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusForbidden) // not a member

		// Excluded after the opening: the vote is lost at once.
		var mid string
		if err := db.Gorm.Raw("SELECT id FROM memberships WHERE user_id = ?", ms[1].UserID).Scan(&mid).Error; err != nil {
			t.Fatal(err)
		}
		e.ExcludeByLetter(t, mid) // the letter takes the right to attend (§68(2) GenG)
		_, err = e.g.Cast(ctx, ms[1], viewer(ms[1]), a.ID, it.ID, governance.BallotInput{Choice: "no"})
		modelstest.WantCode(t, err, http.StatusForbidden)

		modelstest.FieldErr(t, castErr(e, ms[0], a, it, "maybe"), "choice")
		e.cast(t, ms[0], a, it, "yes")
		before := modelstest.Count(t, db, "named_ballots", "")
		_, err = e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, it.ID, governance.BallotInput{Choice: "no"})
		modelstest.WantCode(t, err, http.StatusConflict)
		if n := modelstest.Count(t, db, "named_ballots", ""); n != before {
			t.Errorf("second ballot stored")
		}

		d, err := e.g.Assembly(ctx, viewer(ms[0]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Electorate != 3 || len(d.Rights) != 1 || !d.Rights[0].Voted[it.ID] || d.Turnout != nil {
			t.Errorf("member's detail = %+v", d)
		}
		if d, _ = e.g.Assembly(ctx, e.board, a.ID); d.Turnout[it.ID] != 1 || len(d.Rights) != 0 {
			t.Errorf("board's detail = %+v", d)
		}
		_, err = e.g.Results(ctx, e.board, a.ID)
		modelstest.WantCode(t, err, http.StatusConflict) // not before the close

		// Outside the window by the clock.
		e.Clock.Set(a.VotingEnd.Add(time.Second))
		_, err = e.g.Cast(ctx, ms[2], viewer(ms[2]), a.ID, it.ID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusConflict)
		res := e.close(t, a)
		if r := res.Items[0]; r.Electorate != 3 || r.Yes != 1 || !r.Adopted {
			t.Errorf("result = %+v", r)
		}
		_, err = e.g.Cast(ctx, ms[2], viewer(ms[2]), a.ID, it.ID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusConflict)
	})
}

func castErr(e *gEnv, who models.Actor, a *governance.Assembly, it *governance.AgendaItem, choice string) error {
	_, err := e.g.Cast(context.Background(), who, viewer(who), a.ID, it.ID, governance.BallotInput{Choice: choice})
	return err
}

func TestProxies(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 6)
		a, items := e.assembly(t, false, motion("Annual accounts"))
		grant := func(who models.Actor, to string) error {
			return e.g.GrantProxy(ctx, who, viewer(who), a.ID, to, "")
		}
		outsider := e.User(t, "outsider@example.org")
		modelstest.FieldErr(t, grant(ms[0], outsider.Email), "proxy_email")
		modelstest.FieldErr(t, grant(ms[0], "nobody@example.org"), "proxy_email")
		modelstest.FieldErr(t, grant(ms[0], ms[0].Email), "proxy_email")
		modelstest.WantCode(t, grant(outsider, ms[0].Email), http.StatusForbidden)

		// m5 holds the proxies of m0 and m1: the most allowed.
		if err := grant(ms[0], strings.ToUpper(ms[5].Email)); err != nil {
			t.Fatal(err)
		}
		if err := grant(ms[1], ms[5].Email); err != nil {
			t.Fatal(err)
		}
		modelstest.FieldErr(t, grant(ms[2], ms[5].Email), "proxy_email")       // limit
		modelstest.WantCode(t, grant(ms[0], ms[4].Email), http.StatusConflict) // one proxy per grantor
		modelstest.WantCode(t, grant(ms[5], ms[4].Email), http.StatusConflict) // a holder cannot pass proxies on
		modelstest.FieldErr(t, grant(ms[2], ms[0].Email), "proxy_email")       // m0 gave theirs away

		// m2 → m3, then revoked before the opening.
		if err := grant(ms[2], ms[3].Email); err != nil {
			t.Fatal(err)
		}
		if err := e.g.RevokeProxy(ctx, ms[2], viewer(ms[2]), a.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.g.RevokeProxy(ctx, ms[2], viewer(ms[2]), a.ID), http.StatusNotFound)
		d, err := e.g.Assembly(ctx, viewer(ms[5]), a.ID)
		if err != nil || len(d.ProxiesHeld) != 2 || d.ProxyGiven != nil || !strings.Contains(d.ProxiesHeld[0].Declaration, "authorise") {
			t.Fatalf("holder's detail = %+v, %v", d, err)
		}

		if err := e.g.OpenVoting(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.g.RevokeProxy(ctx, ms[0], viewer(ms[0]), a.ID), http.StatusConflict)
		modelstest.WantCode(t, grant(ms[4], ms[3].Email), http.StatusConflict)

		it := items[0]
		// m0 votes in person: that overrides the proxy given to m5.
		e.cast(t, ms[0], a, it, "yes")
		_, err = e.g.Cast(ctx, ms[3], viewer(ms[3]), a.ID, it.ID, governance.BallotInput{OnBehalfOf: ms[2].UserID, Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusForbidden) // revoked
		_, err = e.g.Cast(ctx, ms[5], viewer(ms[5]), a.ID, it.ID, governance.BallotInput{OnBehalfOf: ms[0].UserID, Choice: "no"})
		modelstest.WantCode(t, err, http.StatusForbidden) // no longer m0's proxy
		d, _ = e.g.Assembly(ctx, viewer(ms[5]), a.ID)
		if len(d.Rights) != 2 || d.Rights[0].OnBehalfOf != ms[5].UserID {
			t.Fatalf("rights = %+v", d.Rights)
		}
		for _, r := range d.Rights {
			if _, err := e.g.Cast(ctx, ms[5], viewer(ms[5]), a.ID, it.ID, governance.BallotInput{OnBehalfOf: r.OnBehalfOf, Choice: "no"}); err != nil {
				t.Fatal(err)
			}
		}
		// m1's proxy has voted for them: a personal vote cannot count twice.
		_, err = e.g.Cast(ctx, ms[1], viewer(ms[1]), a.ID, it.ID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusConflict)
		e.cast(t, ms[2], a, it, "yes")
		res := e.close(t, a)
		r := res.Items[0]
		if r.No != 2 || r.Yes != 2 || r.Adopted {
			t.Errorf("result = %+v", r)
		}
		found := false
		for _, b := range r.Ballots {
			if b.Voter == "m 1 (by proxy m 5)" && b.Choice == "no" {
				found = true
			}
		}
		if !found {
			t.Errorf("ballots = %+v", r.Ballots)
		}
	})
}
