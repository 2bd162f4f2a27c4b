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

// voteFor casts ballots on an election item: names[i] for ms[i], "" for
// an empty ballot, "-" for no ballot at all.
func (e *gEnv) voteFor(t *testing.T, a *governance.Assembly, it *governance.AgendaItem, ms []models.Actor, names ...string) {
	t.Helper()
	for i, name := range names {
		if name == "-" {
			continue
		}
		in := governance.BallotInput{Choice: governance.ChoiceAbstain}
		for _, c := range it.Candidates {
			if c.Name == name {
				in = governance.BallotInput{CandidateIDs: []string{c.ID}}
			}
		}
		if _, err := e.g.Cast(context.Background(), ms[i], viewer(ms[i]), a.ID, it.ID, in); err != nil {
			t.Fatalf("vote %q by %s: %v", name, ms[i].Email, err)
		}
	}
}

// TestElectionRunoffHeld: an election without a majority closes on its own
// at the end of the announced period, the chair opens the runoff between
// the two with the most votes (the third, below the cut, is out), members
// vote on it in its own window after the announced end while the other
// items are closed, the assembly cannot close before the runoff's end,
// plurality decides it, and the result file, the recount and the minutes
// carry both rounds.
func TestElectionRunoffHeld(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 6) // m 5 does not vote
		a, items := e.assembly(t, false, governance.ItemInput{Title: "Supervisory board", Kind: governance.ItemElection, Seats: 1,
			Candidates: []string{"Ada", "Bea", "Cem"}}, motion("Annual accounts"))
		if err := e.g.SetChair(ctx, e.Board1, e.board, a.ID, ms[4].Email, "Berlin"); err != nil {
			t.Fatal(err)
		}
		e.open(t, a)
		first, acc := items[0], items[1]
		if first.ElectionMethod != rulebook.ElectionMajorityRunoff {
			t.Fatalf("method %q", first.ElectionMethod)
		}
		e.voteFor(t, a, first, ms, "Ada", "Ada", "Bea", "Bea", "Cem")
		e.cast(t, ms[0], a, acc, "yes")

		// Refusals: not the board or chair; not an election; before the
		// announced end with votes missing; a runoff before the round closed.
		chair := viewer(ms[4])
		_, err := e.g.CloseItem(ctx, ms[1], viewer(ms[1]), a.ID, first.ID)
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, err = e.g.CloseItem(ctx, ms[4], chair, a.ID, acc.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		_, err = e.g.CloseItem(ctx, ms[4], chair, a.ID, first.ID)
		if de := modelstest.WantCode(t, err, http.StatusConflict); de != nil && !strings.Contains(de.Safe, "as announced") {
			t.Errorf("early close message %q", de.Safe)
		}
		_, err = e.g.OpenRunoff(ctx, ms[4], chair, a.ID, first.ID, a.VotingEnd.Add(time.Hour))
		modelstest.WantCode(t, err, http.StatusConflict)

		e.Clock.Set(a.VotingEnd)
		round, err := e.g.CloseItem(ctx, ms[4], chair, a.ID, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(round.Elected) != 0 || strings.Join(round.Runoff, ",") != "Ada,Bea" || round.CandidateVotes["Ada"] != 2 {
			t.Fatalf("first round = %+v", round)
		}
		_, err = e.g.CloseItem(ctx, ms[4], chair, a.ID, first.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		// The round's result is shown before the assembly closes.
		d, err := e.g.Assembly(ctx, viewer(ms[2]), a.ID)
		if err != nil || d.Encrypted || d.Items[0].Round == nil || strings.Join(d.Items[0].Round.Runoff, ",") != "Ada,Bea" {
			t.Fatalf("detail round = %+v, %v", d.Items[0].Round, err)
		}

		now := e.Clock.Now()
		before := modelstest.Count(t, db, "agenda_items", "assembly_id = ?", a.ID)
		_, err = e.g.OpenRunoff(ctx, ms[4], chair, a.ID, first.ID, now.Add(-time.Minute))
		modelstest.FieldErr(t, err, "end")
		_, err = e.g.OpenRunoff(ctx, ms[4], chair, a.ID, first.ID, now.AddDate(0, 0, 8))
		modelstest.FieldErr(t, err, "end")
		_, err = e.g.OpenRunoff(ctx, ms[1], viewer(ms[1]), a.ID, first.ID, now.Add(2*time.Hour))
		modelstest.WantCode(t, err, http.StatusForbidden)
		if after := modelstest.Count(t, db, "agenda_items", "assembly_id = ?", a.ID); after != before {
			t.Error("a refused runoff changed the database")
		}
		runoff, err := e.g.OpenRunoff(ctx, ms[4], chair, a.ID, first.ID, now.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if runoff.Seats != 1 || runoff.ElectionMethod != rulebook.ElectionPlurality || runoff.RunoffOf != first.ID ||
			len(runoff.Candidates) != 2 || runoff.Candidates[0].Name != "Ada" || runoff.Candidates[1].Name != "Bea" {
			t.Fatalf("runoff = %+v", runoff)
		}
		_, err = e.g.OpenRunoff(ctx, e.Board1, e.board, a.ID, first.ID, now.Add(2*time.Hour))
		modelstest.WantCode(t, err, http.StatusConflict)

		// After the announced end: the runoff takes ballots, the closed
		// round and the other items do not.
		_, err = e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, first.ID, governance.BallotInput{CandidateIDs: []string{first.Candidates[1].ID}})
		modelstest.WantCode(t, err, http.StatusConflict)
		_, err = e.g.Cast(ctx, ms[1], viewer(ms[1]), a.ID, acc.ID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusConflict)
		e.voteFor(t, a, runoff, ms, "Bea", "Ada", "Bea", "Bea", "-")

		_, err = e.g.CloseVoting(ctx, e.Board1, e.board, a.ID)
		if de := modelstest.WantCode(t, err, http.StatusConflict); de != nil && !strings.Contains(de.Safe, "runoff") {
			t.Errorf("close during the runoff: %q", de.Safe)
		}
		e.Clock.Set(now.Add(2 * time.Hour))
		_, err = e.g.Cast(ctx, ms[4], viewer(ms[4]), a.ID, runoff.ID, governance.BallotInput{CandidateIDs: []string{runoff.Candidates[0].ID}})
		modelstest.WantCode(t, err, http.StatusConflict) // the runoff's window is over
		res := e.close(t, a)
		if len(res.Items) != 3 {
			t.Fatalf("%d results", len(res.Items))
		}
		r1, r2 := res.Items[0], res.Items[2]
		if strings.Join(r1.Runoff, ",") != "Ada,Bea" || r1.RunoffOf != "" || r2.RunoffOf != first.ID ||
			strings.Join(r2.Elected, ",") != "Bea" || !r2.Adopted || r2.CandidateVotes["Bea"] != 3 || r2.Cast != 4 {
			t.Errorf("rounds = %+v / %+v", r1, r2)
		}
		recount, err := e.g.Tally(ctx, a.ID)
		if err != nil || recount.ResultHash != res.ResultHash {
			t.Errorf("recount %v: %s vs %s", err, recount.ResultHash, res.ResultHash)
		}
		minutes, err := e.g.Minutes(ctx, viewer(ms[0]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"First round", "**Runoff** for the seat(s)", "Second round", "**Elected:** Bea"} {
			if !strings.Contains(minutes, want) {
				t.Errorf("minutes lack %q:\n%s", want, minutes)
			}
		}
	})
}

// TestElectionRunoffAppointsWinner: an election to the supervisory board
// decided in a runoff appoints the runoff's winner, recorded with the
// runoff item; the first round alone appoints nobody.
func TestElectionRunoffAppointsWinner(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		e.g.WithOrgans(e.Memberships.Organs())
		ms := e.members(t, "m", 5)
		a, items := e.assembly(t, true, governance.ItemInput{Title: "Supervisory board", Kind: governance.ItemElection, Seats: 1,
			Organ: "supervisory_board", Candidates: []string{ms[0].Email, ms[1].Email, ms[2].Email}})
		first := items[0]
		e.voteFor(t, a, first, ms, "m 0", "m 0", "m 1", "m 1", "m 2")
		e.Clock.Set(a.VotingEnd)
		if _, err := e.g.CloseItem(ctx, e.Board1, e.board, a.ID, first.ID); err != nil {
			t.Fatal(err)
		}
		runoff, err := e.g.OpenRunoff(ctx, e.Board1, e.board, a.ID, first.ID, a.VotingEnd.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if runoff.Organ != "supervisory_board" || runoff.Candidates[1].UserID != ms[1].UserID {
			t.Fatalf("runoff = %+v", runoff)
		}
		e.voteFor(t, a, runoff, ms, "m 0", "m 1", "m 1", "m 1", "m 0")
		start := e.Clock.Now()
		_, err = e.g.AppointElected(ctx, e.Board1, e.board, a.ID, runoff.ID, start, start.AddDate(3, 0, 0))
		modelstest.WantCode(t, err, http.StatusConflict) // not closed yet
		e.Clock.Set(a.VotingEnd.Add(3 * time.Hour))
		e.close(t, a)
		_, err = e.g.AppointElected(ctx, e.Board1, e.board, a.ID, first.ID, start, start.AddDate(3, 0, 0))
		if de := modelstest.WantCode(t, err, http.StatusConflict); de != nil && !strings.Contains(de.Safe, "runoff item") {
			t.Errorf("first round appointment: %q", de.Safe)
		}
		n, err := e.g.AppointElected(ctx, e.Board1, e.board, a.ID, runoff.ID, start, start.AddDate(3, 0, 0))
		if err != nil || n != 1 {
			t.Fatalf("appointed %d, %v", n, err)
		}
		for i, want := range []int64{0, 1, 0} {
			if n := modelstest.Count(t, db, "user_roles", "user_id = ? AND role = 'supervisory'", ms[i].UserID); n != want {
				t.Errorf("m%d holds the supervisory role %d times, want %d", i, n, want)
			}
		}
		_, err = e.g.AppointElected(ctx, e.Board1, e.board, a.ID, runoff.ID, start, start.AddDate(3, 0, 0))
		modelstest.WantCode(t, err, http.StatusConflict)
		_, err = e.g.AppointElected(ctx, e.Board1, e.board, a.ID, first.ID, start, start.AddDate(3, 0, 0))
		modelstest.WantCode(t, err, http.StatusConflict)
	})
}

// TestElectionRunoffEncryptedRefused: an election with encrypted ballots
// cannot close alone (its count waits for the trustees after the whole
// vote), so its runoff is refused with the reason, not held in plaintext.
func TestElectionRunoffEncryptedRefused(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		e.members(t, "m", 2)
		a, its, _ := e.electionAssembly(t, 1, []models.Actor{e.Board1}, false, governance.ItemInput{Title: "Supervisory board",
			Kind: governance.ItemElection, Seats: 1, Candidates: []string{"Ada", "Bea", "Cem"}, Secret: true})
		e.open(t, a)
		e.Clock.Set(a.VotingEnd)
		if d, err := e.g.Assembly(ctx, e.board, a.ID); err != nil || !d.Encrypted {
			t.Errorf("detail: encrypted %v, %v", d != nil && d.Encrypted, err) // the board page hides the close button
		}
		_, err := e.g.CloseItem(ctx, e.Board1, e.board, a.ID, its[0].ID)
		if de := modelstest.WantCode(t, err, http.StatusConflict); de != nil && !strings.Contains(de.Safe, "encrypted") {
			t.Errorf("message %q", de.Safe)
		}
	})
}
