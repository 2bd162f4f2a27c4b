package governance_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/governance"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

// TestAssemblyChairConductsDiscussion: a chair, speeches per item,
// questions the board answers on the record, motions the chair decides,
// an amendment put to the vote; in two phases motions close with the
// discussion phase (§43b GenG).
func TestAssemblyChairConductsDiscussion(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 3)
		now := e.Clock.Now()
		ds, de := now.AddDate(0, 0, 30), now.AddDate(0, 0, 37)
		a, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA", Form: governance.FormTwoPhase,
			AccessDetails: "https://forum.example.org", DiscussionForm: "A thread per item.",
			DiscussionStart: ds, DiscussionEnd: de, VotingStart: de, VotingEnd: de.AddDate(0, 0, 7)})
		if err != nil {
			t.Fatal(err)
		}
		item, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Title: "Budget", Kind: governance.ItemOrdinary})
		if err != nil {
			t.Fatal(err)
		}
		// The chair: appointed by the board only, a member or organ.
		modelstest.WantCode(t, e.g.SetChair(ctx, ms[0], viewer(ms[0]), a.ID, ms[2].Email, "Berlin"), http.StatusForbidden)
		outsider := e.User(t, "outsider@example.org")
		modelstest.FieldErr(t, e.g.SetChair(ctx, e.Board1, e.board, a.ID, outsider.Email, "Berlin"), "chair_email")
		modelstest.FieldErr(t, e.g.SetChair(ctx, e.Board1, e.board, a.ID, ms[2].Email, ""), "chair_location")
		if err := e.g.SetChair(ctx, e.Board1, e.board, a.ID, ms[2].Email, "Office of the cooperative, Berlin"); err != nil {
			t.Fatal(err)
		}
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		speak := func(who models.Actor, in governance.ContributionInput) (*governance.Contribution, error) {
			return e.g.Contribute(ctx, who, viewer(who), a.ID, in)
		}
		_, err = speak(ms[0], governance.ContributionInput{ItemID: item.ID, Kind: governance.ContribSpeech, Text: "Too early"})
		modelstest.WantCode(t, err, http.StatusConflict) // the assembly has not begun

		e.Clock.Set(ds.Add(time.Hour))
		if _, err := speak(ms[0], governance.ContributionInput{ItemID: item.ID, Kind: governance.ContribSpeech, Text: "The budget is too small."}); err != nil {
			t.Fatal(err)
		}
		_, err = speak(ms[0], governance.ContributionInput{Kind: governance.ContribSpeech, Text: "x"})
		modelstest.FieldErr(t, err, "item_id")
		_, err = speak(outsider, governance.ContributionInput{ItemID: item.ID, Kind: governance.ContribSpeech, Text: "x"})
		modelstest.WantCode(t, err, http.StatusForbidden)
		q, err := speak(ms[1], governance.ContributionInput{ItemID: item.ID, Kind: governance.ContribQuestion, Text: "What does the new server cost?"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = speak(ms[0], governance.ContributionInput{Kind: governance.ContribAnswer, ParentID: q.ID, Text: "Nothing."})
		modelstest.WantCode(t, err, http.StatusForbidden) // only the board answers
		if _, err := speak(e.Board1, governance.ContributionInput{Kind: governance.ContribAnswer, ParentID: q.ID, Text: "4200 euros, see page 3."}); err != nil {
			t.Fatal(err)
		}
		am, err := speak(ms[0], governance.ContributionInput{ItemID: item.ID, Kind: governance.ContribAmendment, Text: "Raise the budget to 5000 euros."})
		if err != nil {
			t.Fatal(err)
		}
		pm, err := speak(ms[1], governance.ContributionInput{Kind: governance.ContribProcedural, Text: "Limit speeches to 3 minutes."})
		if err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.g.DecideMotion(ctx, e.Board1, e.board, a.ID, am.ID, governance.MotionAdmitted, true), http.StatusForbidden) // the chair decides
		if err := e.g.DecideMotion(ctx, ms[2], viewer(ms[2]), a.ID, am.ID, governance.MotionAdmitted, true); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.g.DecideMotion(ctx, ms[2], viewer(ms[2]), a.ID, am.ID, governance.MotionRejected, false), http.StatusConflict)
		if err := e.g.DecideMotion(ctx, ms[2], viewer(ms[2]), a.ID, pm.ID, governance.MotionRejected, false); err != nil {
			t.Fatal(err)
		}

		// After the discussion phase: no more motions, the answer still comes.
		q2, _ := speak(ms[0], governance.ContributionInput{Kind: governance.ContribQuestion, Text: "Who audits the accounts?"})
		e.Clock.Set(de)
		_, err = speak(ms[1], governance.ContributionInput{ItemID: item.ID, Kind: governance.ContribAmendment, Text: "Late."})
		modelstest.WantCode(t, err, http.StatusConflict)
		if _, err := speak(e.Board1, governance.ContributionInput{Kind: governance.ContribAnswer, ParentID: q2.ID, Text: "An external auditor."}); err != nil {
			t.Fatal(err)
		}

		d, err := e.g.Assembly(ctx, viewer(ms[0]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.ChairName != "m 2" || d.ChairLocation == "" || d.IsChair || len(d.Contributions) != 7 || len(d.Items) != 2 {
			t.Fatalf("detail: chair %q, %d contributions, %d items", d.ChairName, len(d.Contributions), len(d.Items))
		}
		if amend := d.Items[1]; amend.MotionID != am.ID || amend.Kind != governance.ItemOrdinary || !strings.HasPrefix(amend.Title, "Amendment to 1. Budget") {
			t.Errorf("amendment item = %+v", amend)
		}
		if n := len(d.Attendance); n != 3 { // m0, m1, the board member who answered
			t.Errorf("attendance = %+v", d.Attendance)
		}
	})
}

// closedWithChair runs an assembly with a chair (m2) and a bylaw change
// of a §67a kind that m0 objects to, and closes it.
func closedWithChair(t *testing.T, e *gEnv, ms []models.Actor) (*governance.Assembly, []*governance.AgendaItem) {
	t.Helper()
	ctx := context.Background()
	a, items := e.assembly(t, false, governance.ItemInput{Title: "Compulsory second share", Kind: governance.ItemBylawChange, S67a: "compulsory_shares"})
	if err := e.g.SetChair(ctx, e.Board1, e.board, a.ID, ms[2].Email, "Hall 1, Berlin"); err != nil {
		t.Fatal(err)
	}
	if err := e.g.OpenVoting(ctx, e.Board1, e.board, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		choice := "yes"
		if m == ms[0] {
			choice = "no"
		}
		e.cast(t, m, a, items[0], choice)
	}
	if err := e.g.Object(ctx, ms[0], viewer(ms[0]), a.ID, items[0].ID, "A second share is more than I can pay."); err != nil {
		t.Fatal(err)
	}
	return a, items
}

// TestMinutesSignedByChairAndBoard: the chair declares the results, the
// chair and a board member present sign, and the minutes are final
// (§47 GenG); an objection is in them and keeps the §67a notice right.
func TestMinutesSignedByChairAndBoard(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 4)
		a, items := closedWithChair(t, e, ms)
		modelstest.WantCode(t, e.g.Object(ctx, ms[0], viewer(ms[0]), a.ID, items[0].ID, "again"), http.StatusConflict)
		outsider := e.User(t, "outsider@example.org", account.RoleMember)
		modelstest.WantCode(t, e.g.Object(ctx, outsider, viewer(outsider), a.ID, items[0].ID, "x"), http.StatusForbidden)
		modelstest.WantCode(t, e.g.SignMinutes(ctx, ms[2], viewer(ms[2]), a.ID), http.StatusConflict) // not closed
		// The board member takes part (present online).
		if err := e.g.Attend(ctx, e.Board1, e.board, a.ID, governance.AttendOnline); err != nil {
			t.Fatal(err)
		}
		e.close(t, a)

		modelstest.WantCode(t, e.g.SignMinutes(ctx, ms[2], viewer(ms[2]), a.ID), http.StatusConflict) // results not declared
		modelstest.WantCode(t, e.g.DeclareResults(ctx, e.Board1, e.board, a.ID), http.StatusForbidden)
		if err := e.g.DeclareResults(ctx, ms[2], viewer(ms[2]), a.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.g.SignMinutes(ctx, ms[1], viewer(ms[1]), a.ID), http.StatusForbidden)       // neither chair nor board
		modelstest.WantCode(t, e.g.SignMinutes(ctx, e.Board2, viewer(e.Board2), a.ID), http.StatusForbidden) // board, but not present
		if err := e.g.SignMinutes(ctx, ms[2], viewer(ms[2]), a.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.g.SignMinutes(ctx, ms[2], viewer(ms[2]), a.ID), http.StatusConflict)
		// Frozen at the chair's signature: a late objection is refused.
		modelstest.WantCode(t, e.g.Object(ctx, ms[1], viewer(ms[1]), a.ID, items[0].ID, "late"), http.StatusConflict)
		if err := e.g.SignMinutes(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		md, err := e.g.Minutes(ctx, viewer(ms[3]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"- Chair: m 2", "- Chair's location: Hall 1, Berlin", "- Day: ", "Declaration of the chair: The chair declares the resolution adopted with 3 yes, 1 no",
			"Objection for the minutes by m 0", "A second share is more than I can pay", "## Participants", "(voted)", "## Invitation and agenda as sent"} {
			if !strings.Contains(md, want) {
				t.Errorf("minutes lack %q:\n%s", want, md)
			}
		}
		d, err := e.g.Assembly(ctx, viewer(ms[0]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Signatures) != 2 || d.MinutesSignedAt == nil || d.MinutesHash == "" || d.Signatures[0].MinutesHash != d.Signatures[1].MinutesHash {
			t.Errorf("signatures %+v, signed at %v", d.Signatures, d.MinutesSignedAt)
		}
		if len(d.NoticeRights) != 1 || !d.NoticeRights[0].Until.After(e.Clock.Now()) {
			t.Errorf("m0's §67a rights = %+v", d.NoticeRights)
		}
		if d, _ := e.g.Assembly(ctx, viewer(ms[1]), a.ID); len(d.NoticeRights) != 0 {
			t.Errorf("m1 did not object, rights = %+v", d.NoticeRights)
		}
		// Immutable: what changes later does not reach the signed text.
		if err := db.Gorm.Exec("UPDATE users SET name = 'Renamed' WHERE id = ?", ms[2].UserID).Error; err != nil {
			t.Fatal(err)
		}
		if again, _ := e.g.Minutes(ctx, viewer(ms[3]), a.ID); again != md {
			t.Errorf("signed minutes changed")
		}
		e.Clock.Set(d.ClosedAt.AddDate(0, 1, 1))
		if d, _ := e.g.Assembly(ctx, viewer(ms[0]), a.ID); len(d.NoticeRights) != 0 {
			t.Errorf("§67a right after a month: %+v", d.NoticeRights)
		}
	})
}

// TestElectionMajorityRunoff: by default an election needs the majority of
// the valid votes, else a runoff (§43(2) GenG); plurality is a bylaw option.
func TestElectionMajorityRunoff(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 5)
		election := governance.ItemInput{Title: "Supervisory board", Kind: governance.ItemElection, Seats: 1, Candidates: []string{"Ada", "Bea", "Cem"}}
		a, items := e.assembly(t, true, election)
		if items[0].ElectionMethod != rulebook.ElectionMajorityRunoff {
			t.Fatalf("method %q", items[0].ElectionMethod)
		}
		votes := []string{"Ada", "Ada", "Bea", "Cem", ""}
		cast := func(a *governance.Assembly, it *governance.AgendaItem) {
			for i, name := range votes {
				in := governance.BallotInput{Choice: governance.ChoiceAbstain}
				for _, c := range it.Candidates {
					if c.Name == name {
						in = governance.BallotInput{CandidateIDs: []string{c.ID}}
					}
				}
				if _, err := e.g.Cast(ctx, ms[i], viewer(ms[i]), a.ID, it.ID, in); err != nil {
					t.Fatal(err)
				}
			}
		}
		cast(a, items[0])
		r := e.close(t, a).Items[0]
		// Ada: 2 of 4 valid votes, not more than half: runoff Ada – Bea/Cem (tied).
		if len(r.Elected) != 0 || r.Adopted || strings.Join(r.Runoff, ",") != "Ada,Bea,Cem" {
			t.Errorf("majority election = elected %v, runoff %v", r.Elected, r.Runoff)
		}
		e.SetRule(t, rulebook.RuleElectionMethod, rulebook.ElectionPlurality)
		b, items := e.assembly(t, true, election)
		cast(b, items[0])
		if r := e.close(t, b).Items[0]; strings.Join(r.Elected, ",") != "Ada" || !r.Adopted || len(r.Runoff) != 0 {
			t.Errorf("plurality election = %+v", r)
		}
	})
}

// TestSupervisoryElectionAppoints: the result of an election to the
// supervisory board becomes appointments in the membership domain, which
// grant the role; a runoff appoints nobody.
func TestSupervisoryElectionAppoints(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		e.g.WithOrgans(e.Memberships.Organs())
		ms := e.members(t, "m", 4)
		a, items := e.assembly(t, true, governance.ItemInput{Title: "Supervisory board", Kind: governance.ItemElection, Seats: 2,
			Organ: "supervisory_board", Candidates: []string{ms[0].Email, ms[1].Email, ms[2].Email}})
		_, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Title: "x", Kind: governance.ItemElection, Seats: 1,
			Organ: "supervisory_board", Candidates: []string{"nobody@example.org"}})
		modelstest.WantCode(t, err, http.StatusConflict) // voting has opened
		it := items[0]
		if it.Candidates[0].UserID != ms[0].UserID || it.Candidates[0].Name != "m 0" {
			t.Fatalf("candidates = %+v", it.Candidates)
		}
		for _, m := range ms {
			in := governance.BallotInput{CandidateIDs: []string{it.Candidates[0].ID, it.Candidates[1].ID}}
			if _, err := e.g.Cast(ctx, m, viewer(m), a.ID, it.ID, in); err != nil {
				t.Fatal(err)
			}
		}
		e.close(t, a)
		start := e.Clock.Now()
		_, err = e.g.AppointElected(ctx, ms[0], viewer(ms[0]), a.ID, it.ID, start, start.AddDate(3, 0, 0))
		modelstest.WantCode(t, err, http.StatusForbidden)
		n, err := e.g.AppointElected(ctx, e.Board1, e.board, a.ID, it.ID, start, start.AddDate(3, 0, 0))
		if err != nil || n != 2 {
			t.Fatalf("appointed %d, %v", n, err)
		}
		for i, want := range []int64{1, 1, 0} {
			if n := modelstest.Count(t, db, "user_roles", "user_id = ? AND role = 'supervisory'", ms[i].UserID); n != want {
				t.Errorf("m%d holds the supervisory role %d times, want %d", i, n, want)
			}
		}
		_, err = e.g.AppointElected(ctx, e.Board1, e.board, a.ID, it.ID, start, start.AddDate(3, 0, 0))
		modelstest.WantCode(t, err, http.StatusConflict)
	})
}

// TestProxyEligibilityBylawParameter: who may act as proxy is a bylaw
// parameter; with relatives allowed, a member's spouse without a
// membership votes for them.
func TestProxyEligibilityBylawParameter(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 2)
		spouse := e.User(t, "spouse@example.org")
		a, items := e.assembly(t, false, motion("Annual accounts"))
		err := e.g.GrantProxyTo(ctx, ms[0], viewer(ms[0]), a.ID, spouse.Email, "", "spouse")
		modelstest.FieldErr(t, err, "proxy_email") // the default: members only
		modelstest.FieldErr(t, e.g.GrantProxyTo(ctx, ms[0], viewer(ms[0]), a.ID, spouse.Email, "", "neighbour"), "relationship")
		e.SetRule(t, rulebook.RuleProxyEligibility, rulebook.ProxyMembersAndRelatives)
		modelstest.FieldErr(t, e.g.GrantProxy(ctx, ms[0], viewer(ms[0]), a.ID, spouse.Email, ""), "proxy_email") // no relationship named
		if err := e.g.GrantProxyTo(ctx, ms[0], viewer(ms[0]), a.ID, spouse.Email, "", "spouse"); err != nil {
			t.Fatal(err)
		}
		if err := e.g.OpenVoting(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		d, err := e.g.Assembly(ctx, viewer(spouse), a.ID)
		if err != nil || len(d.Rights) != 1 || d.Rights[0].OnBehalfOf != ms[0].UserID {
			t.Fatalf("the spouse's detail = %+v, %v", d, err)
		}
		_, err = e.g.Cast(ctx, spouse, viewer(spouse), a.ID, items[0].ID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusForbidden) // no vote of their own
		if _, err := e.g.Cast(ctx, spouse, viewer(spouse), a.ID, items[0].ID, governance.BallotInput{OnBehalfOf: ms[0].UserID, Choice: "yes"}); err != nil {
			t.Fatal(err)
		}
		e.cast(t, ms[1], a, items[0], "no")
		if r := e.close(t, a).Items[0]; r.Yes != 1 || r.No != 1 {
			t.Errorf("result = %+v", r)
		}
	})
}
