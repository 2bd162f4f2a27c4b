package governance_test

import (
	"allmende/models/governance"
	"allmende/models/modelstest"
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestCastThroughput measures ballots per second on SQLite (10,000
// members × 5 items, 16 casting at a time) and the time of the close. It
// is slow, so it runs only with ALLMENDE_GOV_BENCH=1.
func TestCastThroughput(t *testing.T) {
	if os.Getenv("ALLMENDE_GOV_BENCH") != "1" {
		t.Skip("set ALLMENDE_GOV_BENCH=1")
	}
	db := modelstest.OpenSQLite(t)
	e := newGEnv(t, db)
	members, nItems := 10000, 5
	if s := os.Getenv("ALLMENDE_GOV_BENCH_MEMBERS"); s != "" {
		members, _ = strconv.Atoi(s)
	}
	setup := time.Now()
	ms := e.members(t, "m", members)
	var in []governance.ItemInput
	for i := range nItems {
		in = append(in, governance.ItemInput{Title: "Item", Kind: governance.ItemOrdinary, Secret: i%2 == 0})
	}
	t.Logf("members: %s", time.Since(setup))
	a, items := e.assembly(t, true, in...)
	t.Logf("assembly: %s", time.Since(setup))
	ctx := context.Background()
	start := time.Now()
	work := make(chan [2]int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for w := range work {
				m, it := ms[w[0]], items[w[1]]
				if _, err := e.g.Cast(ctx, m, viewer(m), a.ID, it.ID, governance.BallotInput{Choice: "yes"}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range ms {
		for j := range items {
			work <- [2]int{i, j}
		}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d ballots in %s: %.0f ballots/s", members*nItems, elapsed, float64(members*nItems)/elapsed.Seconds())
	start = time.Now()
	if _, err := e.g.CloseVoting(ctx, e.Board1, e.board, a.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("close (tally, file, hash): %s", time.Since(start))
	start = time.Now()
	if _, err := e.g.Tally(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("tally: %s", time.Since(start))
}
