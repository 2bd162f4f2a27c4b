package governance_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"allmende/election"
	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
)

func secretItems() []governance.ItemInput {
	return []governance.ItemInput{
		{Title: "Discharge of the board", Kind: governance.ItemOrdinary, Secret: true},
		{Title: "Supervisory board", Kind: governance.ItemElection, Seats: 2, Candidates: []string{"Ada", "Grace", "Hedy"}, Secret: true},
		motion("Named motion"),
	}
}

// TestEncryptedBallots: a full assembly with an election key — trustees'
// ceremony, encrypted ballots (a proxy's too), refusals of plaintext,
// malformed and copied ballots, voting again where allowed, fewer than k
// trustees cannot close, k can; the record verifies and gives the result.
func TestEncryptedBallots(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newGEnv(t, db)
		ctx := context.Background()
		ms := e.members(t, "m", 6)
		trustees := []models.Actor{e.Board1, e.Board2, ms[5]}
		a, its, sims := e.electionAssembly(t, 2, trustees, true, secretItems()...)
		if err := e.g.GrantProxy(ctx, ms[5], viewer(ms[5]), a.ID, ms[4].Email, "I authorise m 4."); err != nil {
			t.Fatal(err)
		}
		e.open(t, a)
		motionID, electionID := its[0].ID, its[1].ID
		cast := func(who models.Actor, onBehalf, item string, b election.Ballot) (*governance.EncryptedReceipt, error) {
			return e.g.CastEncrypted(ctx, who, viewer(who), a.ID, item, onBehalf, b)
		}
		mustCast := func(who models.Actor, item string, votes []int) (election.Ballot, *governance.EncryptedReceipt) {
			t.Helper()
			b, _ := e.encrypt(t, a, item, votes)
			r, err := cast(who, "", item, b)
			if err != nil {
				t.Fatalf("cast %v by %s: %v", votes, who.Email, err)
			}
			return b, r
		}
		yes, no, abstain := []int{1, 0, 0}, []int{0, 1, 0}, []int{0, 0, 1}
		first, r0 := mustCast(ms[0], motionID, yes)
		mustCast(ms[1], motionID, yes)
		mustCast(ms[2], motionID, no)
		_, r3 := mustCast(ms[3], motionID, abstain)
		if len(r0.Tracker) != 64 || r0.Replaced {
			t.Errorf("receipt = %+v", r0)
		}
		// The proxy votes for ms[5] with a ballot of its own.
		pb, _ := e.encrypt(t, a, motionID, no)
		if _, err := cast(ms[4], ms[5].UserID, motionID, pb); err != nil {
			t.Fatalf("proxy ballot: %v", err)
		}
		mustCast(ms[0], electionID, []int{1, 1, 0, 0})
		mustCast(ms[1], electionID, []int{0, 1, 0, 0})
		mustCast(ms[2], electionID, []int{0, 0, 0, 1})
		mustCast(ms[3], electionID, []int{1, 0, 1, 0})

		before := modelstest.Snapshot(t, db)
		// A plaintext ballot on a secret item is refused.
		_, err := e.g.Cast(ctx, ms[4], viewer(ms[4]), a.ID, motionID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusConflict)
		// A malformed ballot: a choice taken from another ballot.
		bad, _ := e.encrypt(t, a, motionID, yes)
		bad.Choices[0] = first.Choices[1]
		_, err = cast(ms[4], "", motionID, bad)
		modelstest.WantCode(t, err, http.StatusUnprocessableEntity)
		// A ballot made for the other item.
		other, _ := e.encrypt(t, a, electionID, []int{1, 0, 0, 0})
		_, err = cast(ms[4], "", motionID, other)
		modelstest.WantCode(t, err, http.StatusUnprocessableEntity)
		// A copy of another member's ballot.
		_, err = cast(ms[4], "", motionID, first)
		modelstest.WantCode(t, err, http.StatusConflict)
		// An encrypted ballot on a named item.
		_, err = cast(ms[4], "", its[2].ID, first)
		modelstest.WantCode(t, err, http.StatusConflict)
		// Not the proxy's own vote: they gave none, ms[5] holds no proxy of ms[4].
		_, err = cast(ms[5], ms[4].UserID, motionID, bad)
		if err == nil {
			t.Error("a ballot for another member without a proxy was accepted")
		}
		modelstest.SameSnapshot(t, db, before, "refused ballots")

		// Voting again replaces the earlier ballot.
		_, again := mustCast(ms[3], motionID, yes)
		if !again.Replaced || again.Tracker == r3.Tracker {
			t.Errorf("second ballot: %+v", again)
		}
		if n := modelstest.Count(t, db, "encrypted_ballots", "item_id = ?", motionID); n != 5 {
			t.Errorf("%d ballots on the motion, want 5", n)
		}

		// Closing needs the vote ended and k trustees' decryptions.
		_, err = e.g.CloseVoting(ctx, e.Board1, e.board, a.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		// Not everyone voted: the vote cannot end before the announced end.
		err = e.g.EndVoting(ctx, e.Board1, e.board, a.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		e.Clock.Set(a.VotingEnd)
		if err := e.g.EndVoting(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		late, _ := e.encrypt(t, a, motionID, no)
		_, err = cast(ms[4], "", motionID, late)
		modelstest.WantCode(t, err, http.StatusConflict)
		// A wrong partial decryption (trustee 2's factors under 1's name).
		view, _ := e.g.Election(ctx, e.board, a.ID)
		y, q, bctx := e.question(t, a, motionID)
		_ = y
		wrong := election.PartialDecrypt(bctx, 1, sims[1].x, view.Items[0].Tally)
		err = e.g.SubmitDecryption(ctx, sims[0].actor, viewer(sims[0].actor), a.ID, motionID, wrong)
		modelstest.WantCode(t, err, http.StatusUnprocessableEntity)
		err = e.g.SubmitDecryption(ctx, ms[0], viewer(ms[0]), a.ID, motionID, wrong)
		modelstest.WantCode(t, err, http.StatusForbidden)
		_ = q
		e.decrypt(t, a, sims[:1])
		_, err = e.g.CloseVoting(ctx, e.Board1, e.board, a.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		e.decrypt(t, a, sims[1:2])
		res := e.close(t, a)

		m := res.Items[0]
		if m.Yes != 3 || m.No != 2 || m.Abstain != 0 || m.Cast != 5 || !m.Adopted {
			t.Errorf("motion result = %+v", m)
		}
		if !slices.ContainsFunc(m.Ballots, func(b governance.PublishedBallot) bool { return b.Code == again.Tracker }) ||
			slices.ContainsFunc(m.Ballots, func(b governance.PublishedBallot) bool { return b.Code == r3.Tracker }) {
			t.Error("the published trackers are not those of the ballots counted")
		}
		el := res.Items[1]
		if el.CandidateVotes["Ada"] != 2 || el.CandidateVotes["Grace"] != 2 || el.CandidateVotes["Hedy"] != 1 || el.Abstain != 1 {
			t.Errorf("election result = %+v", el)
		}
		if !slices.Equal(el.Elected, []string{"Ada", "Grace"}) {
			t.Errorf("elected = %v", el.Elected)
		}

		rec, err := e.g.ElectionRecord(ctx, viewer(ms[0]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(rec)
		parsed, err := election.ReadRecord(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		sum, err := election.Verify(parsed)
		if err != nil {
			t.Fatalf("the published record does not verify: %v", err)
		}
		if !slices.Equal(sum.Items[0].Result, []int{3, 2, 0}) || !slices.Equal(sum.Items[1].Result, []int{2, 2, 1, 1}) {
			t.Errorf("record results = %v, %v", sum.Items[0].Result, sum.Items[1].Result)
		}
		// Recounting from the database gives the published file.
		again2, err := e.g.Tally(ctx, a.ID)
		if err != nil || again2.ResultHash != res.ResultHash {
			t.Errorf("recount: %v", err)
		}
	})
}

// TestEncryptedBallotOnce: without the board's leave to vote again, a
// second ballot is refused and the first stays.
func TestEncryptedBallotOnce(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newGEnv(t, db)
		ctx := context.Background()
		ms := e.members(t, "m", 2)
		a, its, _ := e.electionAssembly(t, 1, []models.Actor{e.Board1}, false, secretItems()[0])
		e.open(t, a)
		b, _ := e.encrypt(t, a, its[0].ID, []int{1, 0, 0})
		if _, err := e.g.CastEncrypted(ctx, ms[0], viewer(ms[0]), a.ID, its[0].ID, "", b); err != nil {
			t.Fatal(err)
		}
		b2, _ := e.encrypt(t, a, its[0].ID, []int{0, 1, 0})
		_, err := e.g.CastEncrypted(ctx, ms[0], viewer(ms[0]), a.ID, its[0].ID, "", b2)
		modelstest.WantCode(t, err, http.StatusConflict)
		if n := modelstest.Count(t, db, "encrypted_ballots", "item_id = ?", its[0].ID); n != 1 {
			t.Errorf("%d ballots", n)
		}
	})
}

// TestKeyCeremonyRules: only the board names trustees, only trustees take
// part, a bad commitment is refused, and the vote opens only with the key.
func TestKeyCeremonyRules(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newGEnv(t, db)
		ctx := context.Background()
		ms := e.members(t, "m", 2)
		a, _ := e.assembly(t, false, secretItems()[0])
		in := governance.ElectionInput{TrusteeEmails: []string{e.Board1.Email, e.Board2.Email}, Threshold: 2}
		modelstest.WantCode(t, e.g.SetUpElection(ctx, ms[0], viewer(ms[0]), a.ID, in), http.StatusForbidden)
		modelstest.WantCode(t, e.g.SetUpElection(ctx, e.Board1, e.board, a.ID,
			governance.ElectionInput{TrusteeEmails: in.TrusteeEmails, Threshold: 3}), http.StatusUnprocessableEntity)
		modelstest.WantCode(t, e.g.SetUpElection(ctx, e.Board1, e.board, a.ID,
			governance.ElectionInput{TrusteeEmails: []string{"nobody@example.org"}, Threshold: 1}), http.StatusUnprocessableEntity)
		if err := e.g.SetUpElection(ctx, e.Board1, e.board, a.ID, in); err != nil {
			t.Fatal(err)
		}
		ectx := election.ElectionContext(a.ID, 2, 2)
		p := election.NewPolynomial(2)
		reg := governance.TrusteeRegistration{TransportKey: election.PublicOf(election.RandomScalar()).String(), Commitments: p.Commitments(), Proof: p.ProveConstant(ectx, 1)}
		modelstest.WantCode(t, e.g.RegisterTrustee(ctx, ms[0], viewer(ms[0]), a.ID, reg), http.StatusForbidden)
		// Trustee 2 cannot use trustee 1's proof (it binds the index).
		modelstest.WantCode(t, e.g.RegisterTrustee(ctx, e.Board2, viewer(e.Board2), a.ID, reg), http.StatusUnprocessableEntity)
		if err := e.g.RegisterTrustee(ctx, e.Board1, e.board, a.ID, reg); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.g.OpenVoting(ctx, e.Board1, e.board, a.ID), http.StatusConflict)
		// Shares before everybody registered: another step.
		modelstest.WantCode(t, e.g.DealShares(ctx, e.Board1, e.board, a.ID, nil), http.StatusConflict)
		// Naming the trustees anew starts over; then the whole ceremony.
		if err := e.g.SetUpElection(ctx, e.Board1, e.board, a.ID, in); err != nil {
			t.Fatal(err)
		}
		e.ceremony(t, a, []models.Actor{e.Board1, e.Board2}, 2)
		e.open(t, a)
		modelstest.WantCode(t, e.g.SetUpElection(ctx, e.Board1, e.board, a.ID, in), http.StatusConflict)
	})
}

// TestNoPlaintextChoiceStored: after an assembly with encrypted ballots, no
// plaintext choice (in any form the server could have written it) and no
// ballot randomness (which would decrypt a ballot) is in the database file,
// its WAL, the job table or the audit log; the old table of secret ballots
// stayed empty.
func TestNoPlaintextChoiceStored(t *testing.T) {
	db := modelstest.OpenSQLite(t)
	e := newGEnv(t, db)
	ctx := context.Background()
	ms := e.members(t, "m", 4)
	a, its, sims := e.electionAssembly(t, 1, []models.Actor{e.Board1}, true, secretItems()[:2]...)
	e.open(t, a)
	var secrets [][]byte
	var plain []string
	candidates := its[1].Candidates
	for i, m := range ms {
		b, rs := e.encrypt(t, a, its[0].ID, [][]int{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 0, 0}}[i])
		if _, err := e.g.CastEncrypted(ctx, m, viewer(m), a.ID, its[0].ID, "", b); err != nil {
			t.Fatal(err)
		}
		votes := [][]int{{1, 1, 0, 0}, {0, 1, 1, 0}, {0, 0, 0, 1}, {1, 0, 1, 0}}[i]
		eb, ers := e.encrypt(t, a, its[1].ID, votes)
		if _, err := e.g.CastEncrypted(ctx, m, viewer(m), a.ID, its[1].ID, "", eb); err != nil {
			t.Fatal(err)
		}
		for _, r := range append(rs, ers...) {
			secrets = append(secrets, r.Bytes())
		}
		var chosen []string
		for j, v := range votes[:3] {
			if v == 1 {
				chosen = append(chosen, candidates[j].ID)
			}
		}
		slices.Sort(chosen)
		if len(chosen) > 0 {
			plain = append(plain, strings.Join(chosen, ",")) // the canonical choice of the plaintext path
		}
		for _, v := range [][]int{votes} {
			j, _ := json.Marshal(v)
			plain = append(plain, string(j))
		}
	}
	if err := e.g.EndVoting(ctx, e.Board1, e.board, a.ID); err != nil {
		t.Fatal(err)
	}
	e.decrypt(t, a, sims)
	e.close(t, a)

	var path string
	if err := db.SQL.QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil || path == "" {
		t.Fatalf("database file: %q %v", path, err)
	}
	var files [][]byte
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	var jobs, audit []string
	if err := db.Gorm.Raw("SELECT CAST(args AS TEXT) FROM river_job").Scan(&jobs).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Gorm.Raw("SELECT detail FROM audit_events WHERE action = 'ballot.cast'").Scan(&audit).Error; err != nil {
		t.Fatal(err)
	}
	if len(audit) != 8 || len(files[0]) == 0 {
		t.Fatalf("%d ballot audit entries, %d bytes of database", len(audit), len(files[0]))
	}
	hay := append(files, []byte(strings.Join(jobs, "\n")+strings.Join(audit, "\n")))
	for _, h := range hay {
		for _, s := range secrets {
			if bytes.Contains(h, s) || bytes.Contains(h, []byte(hex.EncodeToString(s))) {
				t.Fatal("ballot randomness is stored: a ballot could be decrypted")
			}
		}
		for _, p := range plain {
			if bytes.Contains(h, []byte(p)) {
				t.Fatalf("a plaintext choice %q is stored", p)
			}
		}
	}
	for _, d := range audit {
		if strings.Contains(d, "choice") {
			t.Errorf("a ballot's audit entry names a choice: %s", d)
		}
	}
}
