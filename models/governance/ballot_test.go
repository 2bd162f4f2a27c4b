package governance_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
)

func TestSecretBallotStorage(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newGEnv(t, db)
		ms := e.members(t, "m", 20)
		a, items := e.assembly(t, true, governance.ItemInput{Title: "Discharge of the board", Kind: governance.ItemOrdinary, Secret: true})
		it := items[0]
		receipts := map[string]*governance.Receipt{}
		choices := map[string]string{}
		var codesInOrder []string
		for i, m := range ms {
			choice := []string{"yes", "no", "abstain"}[i%3]
			r := e.cast(t, m, a, it, choice)
			if len(r.Secret) != 64 || len(r.Code) != 64 {
				t.Fatalf("receipt = %+v", r)
			}
			receipts[m.UserID], choices[m.UserID] = r, choice
			codesInOrder = append(codesInOrder, r.Code)
		}

		// The stored ballots: only item, random id, choice and code.
		rows, err := db.SQL.Query("SELECT * FROM secret_ballots")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		slices.Sort(cols)
		if !slices.Equal(cols, []string{"choice", "code", "id", "item_id"}) {
			t.Errorf("secret_ballots columns = %v", cols)
		}
		var ids, storageOrder []string
		for rows.Next() {
			var itemID, id, choice, code string
			if err := rows.Scan(&itemID, &id, &choice, &code); err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if strings.Contains(itemID+id+choice+code, m.UserID) {
					t.Errorf("a secret ballot names voter %s", m.UserID)
				}
			}
			if len(id) != 32 || strings.Count(id, "-") != 0 {
				t.Errorf("ballot id %q is not 16 random bytes in hex", id)
			}
			ids = append(ids, id)
			storageOrder = append(storageOrder, code)
		}
		rows.Close()
		if len(ids) != 20 {
			t.Fatalf("%d secret ballots", len(ids))
		}
		// Random ids: sorted by id they are not in the order of casting
		// (1 in 20! by chance), and SQLite stores them by id.
		byID := map[string]string{}
		for i := range ids {
			byID[ids[i]] = storageOrder[i]
		}
		sorted := slices.Clone(ids)
		slices.Sort(sorted)
		var codesByID []string
		for _, id := range sorted {
			codesByID = append(codesByID, byID[id])
		}
		if slices.Equal(codesByID, codesInOrder) {
			t.Errorf("ballot ids follow the order of casting")
		}
		if db.Dialect == models.SQLite && slices.Equal(storageOrder, codesInOrder) {
			t.Errorf("SQLite stores secret ballots in the order of casting")
		}
		// That they voted is recorded apart, with no more than item and member.
		rows, err = db.SQL.Query("SELECT * FROM vote_records")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ = rows.Columns()
		rows.Close()
		slices.Sort(cols)
		if !slices.Equal(cols, []string{"item_id", "member_id"}) {
			t.Errorf("vote_records columns = %v", cols)
		}
		if n := modelstest.Count(t, db, "vote_records", "item_id = ?", it.ID); n != 20 {
			t.Errorf("vote records = %d", n)
		}
		if n := modelstest.Count(t, db, "named_ballots", ""); n != 0 {
			t.Errorf("named ballots for a secret item: %d", n)
		}
		// The audit names voter and item, not the choice.
		var details []string
		if err := db.Gorm.Raw("SELECT detail FROM audit_events WHERE action = 'ballot.cast'").Scan(&details).Error; err != nil {
			t.Fatal(err)
		}
		for _, d := range details {
			var m map[string]any
			if err := json.Unmarshal([]byte(d), &m); err != nil || m["member"] == nil || m["choice"] != nil || len(m) != 2 {
				t.Errorf("audit detail of a secret ballot = %s", d)
			}
		}

		// Receipts verify against the published list; a wrong secret does not.
		res := e.close(t, a)
		if db.Dialect == models.Postgres {
			// Rewritten at close: one writing transaction for all, and
			// stored in the order of the random ids.
			var xmins []string
			if err := db.Gorm.Raw("SELECT DISTINCT xmin::text FROM secret_ballots").Scan(&xmins).Error; err != nil {
				t.Fatal(err)
			}
			var order []string
			if err := db.Gorm.Raw("SELECT id FROM secret_ballots").Scan(&order).Error; err != nil {
				t.Fatal(err)
			}
			if len(xmins) != 1 || !slices.IsSorted(order) {
				t.Errorf("secret ballots after close: xmin %v, sorted %v", xmins, slices.IsSorted(order))
			}
		}
		r := res.Items[0]
		if r.Yes != 7 || r.No != 7 || r.Abstain != 6 || r.Cast != 20 || r.Adopted {
			t.Errorf("result = %+v", r)
		}
		for _, m := range ms {
			rc := receipts[m.UserID]
			ok := false
			for _, b := range r.Ballots {
				if b.Voter != "" {
					t.Fatalf("secret ballot published with a voter: %+v", b)
				}
				if governance.VerifyReceipt(rc.Secret, it.ID, b) {
					ok = b.Choice == choices[m.UserID]
				}
			}
			if !ok {
				t.Errorf("receipt of %s does not verify", m.Email)
			}
		}
		other := receipts[ms[1].UserID].Secret
		for _, b := range r.Ballots {
			if b.Code == receipts[ms[0].UserID].Code && governance.VerifyReceipt(other, it.ID, b) {
				t.Errorf("another voter's secret verifies m 0's ballot")
			}
		}
	})
}

func TestConcurrentCasting(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		n := 300
		ms := e.members(t, "m", n)
		a, items := e.assembly(t, true, governance.ItemInput{Title: "Secret", Kind: governance.ItemOrdinary, Secret: true}, motion("Named"))

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
		if c := modelstest.Count(t, db, "secret_ballots", ""); c != int64(n) {
			t.Errorf("secret ballots = %d, want %d", c, n)
		}
		if c := modelstest.Count(t, db, "named_ballots", ""); c != int64(n) {
			t.Errorf("named ballots = %d, want %d", c, n)
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
