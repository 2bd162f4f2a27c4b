package governance_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
)

// TestSecretItemNeedsElectionKey: a secret item is never voted in
// plaintext. An assembly with one opens only once trustees have made the
// election key (the board is told so), a plaintext ballot on it is refused
// with nothing stored, and the plaintext table is gone; open items are
// voted by name as before.
func TestSecretItemNeedsElectionKey(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 3)
		a, items := e.assembly(t, false, governance.ItemInput{Title: "Discharge of the board", Kind: governance.ItemOrdinary, Secret: true}, motion("Named"))
		d, err := e.g.Assembly(ctx, e.board, a.ID)
		if err != nil || !d.NeedsElectionKey {
			t.Fatalf("detail: needs key %v, %v", d != nil && d.NeedsElectionKey, err)
		}
		err = e.g.OpenVoting(ctx, e.Board1, e.board, a.ID)
		if de := modelstest.WantCode(t, err, http.StatusConflict); de != nil && de.Safe != governance.ErrSecretNeedsKey {
			t.Errorf("message %q", de.Safe)
		}
		if n := modelstest.Count(t, db, "electorate", ""); n != 0 {
			t.Errorf("refused opening fixed an electorate of %d", n)
		}

		// With trustees and their key it opens; the secret item takes only
		// encrypted ballots, the open one named ballots.
		if err := e.g.SetUpElection(ctx, e.Board1, e.board, a.ID, governance.ElectionInput{TrusteeEmails: []string{e.Board1.Email}, Threshold: 1}); err != nil {
			t.Fatal(err)
		}
		e.ceremony(t, a, []models.Actor{e.Board1}, 1)
		if d, err := e.g.Assembly(ctx, e.board, a.ID); err != nil || d.NeedsElectionKey || !d.Encrypted {
			t.Fatalf("detail after the ceremony: %+v, %v", d, err)
		}
		e.open(t, a)
		_, err = e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, items[0].ID, governance.BallotInput{Choice: "yes"})
		if de := modelstest.WantCode(t, err, http.StatusConflict); de != nil && !strings.Contains(de.Safe, "encrypted") {
			t.Errorf("message %q", de.Safe)
		}
		e.cast(t, ms[0], a, items[1], "yes")
		if n := modelstest.Count(t, db, "vote_records", "item_id = ?", items[0].ID); n != 0 {
			t.Errorf("%d vote records of a refused plaintext ballot", n)
		}
		if n := modelstest.Count(t, db, "named_ballots", ""); n != 1 {
			t.Errorf("%d named ballots, want 1", n)
		}
		var tables int64
		q := "SELECT COUNT(*) FROM sqlite_master WHERE name = 'secret_ballots'"
		if db.Dialect == models.Postgres {
			q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'secret_ballots' AND table_schema = current_schema()"
		}
		if err := db.Gorm.Raw(q).Scan(&tables).Error; err != nil || tables != 0 {
			t.Errorf("the plaintext secret ballot table exists (%d, %v)", tables, err)
		}
	})
}

func TestConcurrentCasting(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		n := 300
		ms := e.members(t, "m", n)
		a, items := e.assembly(t, true, motion("First"), motion("Second"))

		// The same member twice at once, on each item: exactly one counts.
		for _, it := range items {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() {
					_, errs[i] = e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, it.ID, governance.BallotInput{Choice: "yes"})
				})
			}
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("double cast on %s: %v / %v", it.Title, errs[0], errs[1])
			}
			for _, err := range errs {
				if err != nil {
					modelstest.WantCode(t, err, http.StatusConflict)
				}
			}
		}

		// Everyone else at once, on both items.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []error
		for i, m := range ms[1:] {
			for _, it := range items {
				wg.Go(func() {
					choice := "yes"
					if i%4 == 0 {
						choice = "no"
					}
					if _, err := e.g.Cast(ctx, m, viewer(m), a.ID, it.ID, governance.BallotInput{Choice: choice}); err != nil {
						mu.Lock()
						failed = append(failed, err)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		if len(failed) > 0 {
			t.Fatalf("%d casts failed, first: %v", len(failed), failed[0])
		}
		d, err := e.g.Assembly(ctx, e.board, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if d.Turnout[it.ID] != n {
				t.Errorf("turnout on %s = %d, want %d", it.Title, d.Turnout[it.ID], n)
			}
		}
		if c := modelstest.Count(t, db, "named_ballots", ""); c != int64(2*n) {
			t.Errorf("named ballots = %d, want %d", c, 2*n)
		}
		res := e.close(t, a)
		wantNo := (n - 1 + 3) / 4 // i%4 == 0 among the n-1 others
		for _, r := range res.Items {
			if r.Cast != n || r.No != wantNo || r.Yes != n-wantNo || !r.Adopted {
				t.Errorf("%s: %+v", r.Title, r)
			}
		}
	})
}

func TestExcludedVoterPerItem(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 3)
		a, items := e.assembly(t, false, governance.ItemInput{Title: "Discharge of m 0", Kind: governance.ItemOrdinary, ExcludedUserIDs: []string{ms[0].UserID}})
		if err := e.g.GrantProxy(ctx, ms[2], viewer(ms[2]), a.ID, ms[0].Email, "I authorise m 0."); err != nil {
			t.Fatal(err)
		}
		if err := e.g.OpenVoting(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, items[0].ID, governance.BallotInput{Choice: "yes"})
		de := modelstest.WantCode(t, err, http.StatusForbidden)
		if !strings.Contains(de.Safe, "excluded") {
			t.Errorf("message = %q", de.Safe)
		}
		// Nor for the member they represent (§43(6) GenG).
		_, err = e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, items[0].ID, governance.BallotInput{OnBehalfOf: ms[2].UserID, Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusForbidden)
		e.cast(t, ms[1], a, items[0], "yes")
		res := e.close(t, a)
		if r := res.Items[0]; r.Electorate != 2 || r.Yes != 1 || r.Cast != 1 {
			t.Errorf("result = %+v", r)
		}
	})
}
