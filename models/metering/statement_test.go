package metering_test

import (
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/metering"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

var nov = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func day(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, time.UTC) }

// novemberWithResizeAndDeletion: Alice's VM A runs on "small" from
// October, is resized to "big" on the 10th (stopped for an hour), and is
// deleted on the 20th; her VM B is made on the 5th, runs exactly 24 h and
// stays stopped. Bob has nothing.
func novemberWithResizeAndDeletion(t *testing.T, e *env) {
	a := e.vm(t, e.alice, e.small, compute.VMRunning, time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC))
	e.set(t, a, day(10, 0, 0), map[string]any{"state": compute.VMResizing})
	e.set(t, a, day(10, 1, 0), map[string]any{"state": compute.VMRunning, "plan_id": e.big.ID})
	e.set(t, a, day(20, 12, 0), map[string]any{"state": compute.VMDeleting})
	e.set(t, a, day(20, 12, 30), map[string]any{"state": compute.VMDeleted, "deleted_at": day(20, 12, 30)})
	b := e.vm(t, e.alice, e.small, compute.VMProvisioning, day(5, 12, 0))
	e.set(t, b, day(5, 12, 10), map[string]any{"state": compute.VMRunning})
	e.set(t, b, day(6, 12, 10), map[string]any{"state": compute.VMStopped})
}

// Metering across a month with a resize and a deletion: exact VM-hours per
// plan, disks for as long as they existed, prices from the rules.
func TestMeteringMonthWithResizeAndDeletion(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		novemberWithResizeAndDeletion(t, e)
		clock := models.NewManualClock(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
		c := metering.NewCommons(db, metering.NewMetrics(db), clock)
		n, err := c.CloseMonth(ctx, models.SystemActor("test"), metering.MonthOf(nov))
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("statements made = %d, want 1 (Bob used nothing)", n)
		}
		sts, err := c.Statements(ctx, models.Viewer{UserID: e.alice.UserID})
		if err != nil || len(sts) != 1 {
			t.Fatalf("statements = %v, %v", sts, err)
		}
		got := map[string]metering.StatementLine{}
		for _, l := range sts[0].Lines {
			got[l.Description] = l
		}
		small := got["VM-hours, plan small (1 vCPU, 1024 MiB)"]
		big := got["VM-hours, plan big (2 vCPU, 4096 MiB)"]
		// small: 1 Nov – 10 Nov 00:00 (216 h) + B's 24 h; big: 10 Nov 01:00 – 20 Nov 12:00.
		if small.QuantityMilli != 240_000 || big.QuantityMilli != 251_000 {
			t.Errorf("VM-hours small %d, big %d (thousandths); want 240000, 251000\n%+v", small.QuantityMilli, big.QuantityMilli, sts[0].Lines)
		}
		// Initial prices: 300 per vCPU-hour + 200 per GiB-hour (millicents).
		if small.UnitPriceMillicents != 500 || small.AmountCents != 120 || big.UnitPriceMillicents != 1400 || big.AmountCents != 351 {
			t.Errorf("prices: small %+v, big %+v", small, big)
		}
		disk := got["Disks"]
		month := int64(30 * 24 * 3600)
		gibSeconds := int64(10)*(9*86400+3600) + 40*(10*86400+11*3600+1800) + 10*(25*86400+12*3600)
		if want := (gibSeconds*1000 + month/2) / month; disk.QuantityMilli != want {
			t.Errorf("disk = %d thousandths of GiB-months, want %d", disk.QuantityMilli, want)
		}
	})
}

// Closing twice changes nothing; a correction is a new line and leaves the
// others alone; the board's totals add up to the lines; members see only
// their own statements.
func TestStatementsCloseTwiceCorrectAndTotals(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		novemberWithResizeAndDeletion(t, e)
		bobVM := e.vm(t, e.bob, e.big, compute.VMRunning, day(15, 0, 0))
		_ = bobVM
		board := modelstest.InsertUser(t, db, "Board", "board@example.org", account.RoleBoard)
		boardV := models.Viewer{UserID: board.UserID}
		clock := models.NewManualClock(day(30, 12, 0))
		c := metering.NewCommons(db, metering.NewMetrics(db), clock)
		m := metering.MonthOf(nov)

		_, err := c.CloseMonth(ctx, models.SystemActor("test"), m)
		modelstest.WantCode(t, err, 422) // not over yet
		if n := modelstest.Count(t, db, "statements", "1=1"); n != 0 {
			t.Fatalf("an early close wrote %d statements", n)
		}
		clock.Set(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
		if n, err := c.CloseDue(ctx); err != nil || n != 2 {
			t.Fatalf("close due: %d, %v", n, err)
		}
		before := modelstest.Snapshot(t, db)
		if n, err := c.CloseMonth(ctx, models.SystemActor("test"), m); err != nil || n != 0 {
			t.Fatalf("second close: %d, %v", n, err)
		}
		modelstest.SameSnapshot(t, db, before, "closing twice")

		alice, err := c.Statements(ctx, models.Viewer{UserID: e.alice.UserID})
		if err != nil {
			t.Fatal(err)
		}
		st := alice[0]
		oldLines, oldTotal := len(st.Lines), st.Total()
		// Members cannot correct, nor see another's statement.
		_, err = c.Correct(ctx, e.bob, models.Viewer{UserID: e.bob.UserID}, st.ID, metering.CorrectionInput{Description: "x", AmountCents: -100})
		modelstest.WantCode(t, err, 403)
		_, err = c.Statement(ctx, models.Viewer{UserID: e.bob.UserID}, st.ID)
		modelstest.WantCode(t, err, 404)
		// Bad corrections write nothing.
		before = modelstest.Snapshot(t, db)
		_, err = c.Correct(ctx, board, boardV, st.ID, metering.CorrectionInput{Description: " ", AmountCents: 0})
		modelstest.WantCode(t, err, 422)
		modelstest.SameSnapshot(t, db, before, "a bad correction")

		line, err := c.Correct(ctx, board, boardV, st.ID, metering.CorrectionInput{Description: "Goodwill for the outage", AmountCents: -50,
			CorrectsID: st.Lines[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.Statement(ctx, boardV, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Lines) != oldLines+1 || again.Total() != oldTotal-50 || again.Lines[oldLines].ID != line.ID {
			t.Errorf("after correction: %d lines, total %d; want %d, %d", len(again.Lines), again.Total(), oldLines+1, oldTotal-50)
		}
		for i := range st.Lines {
			if again.Lines[i] != st.Lines[i] {
				t.Errorf("line %d changed: %+v → %+v", i, st.Lines[i], again.Lines[i])
			}
		}

		bm, err := c.BoardMonth(ctx, boardV, m)
		if err != nil {
			t.Fatal(err)
		}
		var sum, sumLines int64
		for _, s := range bm.Statements {
			sum += s.Total()
		}
		if err := db.Gorm.Table("statement_lines").Select("COALESCE(SUM(amount_cents), 0)").Row().Scan(&sumLines); err != nil {
			t.Fatal(err)
		}
		if len(bm.Statements) != 2 || bm.TotalCents != sum || sum != sumLines || !bm.Closed {
			t.Errorf("board month: %d statements, total %d, sum %d, lines %d", len(bm.Statements), bm.TotalCents, sum, sumLines)
		}
		_, err = c.BoardMonth(ctx, models.Viewer{UserID: e.alice.UserID}, m)
		modelstest.WantCode(t, err, 403)
	})
}

// Running costs: bad input is a clear error and writes nothing; a prices
// rule out of its bounds is refused; coverage is contributions over costs.
func TestCostsBadInputAndCoverage(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		novemberWithResizeAndDeletion(t, e)
		board := modelstest.InsertUser(t, db, "Board", "board@example.org", account.RoleBoard)
		boardV := models.Viewer{UserID: board.UserID}
		clock := models.NewManualClock(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
		rules := rulebook.NewRules(db, clock)
		c := metering.NewCommons(db, metering.NewMetrics(db), clock)

		before := modelstest.Snapshot(t, db)
		for _, in := range []metering.CostInput{
			{Month: "2026-11", Category: "housing", AmountCents: -100, AmountValid: true},
			{Month: "2026-11", Category: "housing", AmountValid: false},
			{Month: "11/2026", Category: "housing", AmountCents: 100, AmountValid: true},
			{Month: "2026-11", Category: "yachts", AmountCents: 100, AmountValid: true},
		} {
			_, err := c.AddCost(ctx, board, boardV, in)
			modelstest.WantCode(t, err, 422)
		}
		_, err := c.AddCost(ctx, e.alice, models.Viewer{UserID: e.alice.UserID}, metering.CostInput{Month: "2026-11", Category: "housing", AmountCents: 100, AmountValid: true})
		modelstest.WantCode(t, err, 403)
		err = rules.Set(ctx, board, rulebook.RulePriceVCPUHour, "2000000", nov, "test")
		if err == nil {
			t.Error("a vCPU price beyond the rule's bounds was taken")
		}
		err = rules.Set(ctx, board, rulebook.RulePriceDiskGiBMonth, "-1", nov, "test")
		if err == nil {
			t.Error("a negative disk price was taken")
		}
		modelstest.SameSnapshot(t, db, before, "bad costs and prices")

		cost, err := c.AddCost(ctx, board, boardV, metering.CostInput{Month: "2026-11", Category: "housing", AmountCents: 942, AmountValid: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CloseMonth(ctx, models.SystemActor("test"), metering.MonthOf(nov)); err != nil {
			t.Fatal(err)
		}
		cov, err := c.Coverage(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		novCov := cov[1]
		if novCov.Month != "2026-11" || novCov.CostsCents != 942 || novCov.ContributionsCents <= 0 || novCov.Percent == nil ||
			*novCov.Percent != float64(novCov.ContributionsCents)/942*100 {
			t.Errorf("coverage = %+v", novCov)
		}
		if err := c.ReverseCost(ctx, board, boardV, cost.ID); err != nil {
			t.Fatal(err)
		}
		err = c.ReverseCost(ctx, board, boardV, cost.ID)
		modelstest.WantCode(t, err, 409)
		cov, _ = c.Coverage(ctx, 3)
		if cov[1].CostsCents != 0 || cov[1].Percent != nil {
			t.Errorf("after reversal: %+v", cov[1])
		}
	})
}

// The database itself keeps statements, their lines, closed months and
// costs as written: an UPDATE or DELETE fails.
func TestStatementsAppendOnlyInTheDatabase(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		novemberWithResizeAndDeletion(t, e)
		clock := models.NewManualClock(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
		c := metering.NewCommons(db, metering.NewMetrics(db), clock)
		if _, err := c.CloseMonth(t.Context(), models.SystemActor("test"), metering.MonthOf(nov)); err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{
			`UPDATE statement_lines SET amount_cents = 0`, `DELETE FROM statement_lines`,
			`UPDATE statements SET month = '2000-01'`, `DELETE FROM statements`, `DELETE FROM metering_months`,
		} {
			if err := db.Gorm.Exec(stmt).Error; err == nil {
				t.Errorf("%s: allowed", stmt)
			}
		}
	})
}

// The current month so far: what ran until now, for the member only.
func TestUsageSoFar(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		novemberWithResizeAndDeletion(t, e)
		e.vm(t, e.bob, e.small, compute.VMRunning, day(1, 0, 0))
		clock := models.NewManualClock(day(10, 0, 0)) // A ran on small from the 1st: 216 h
		c := metering.NewCommons(db, metering.NewMetrics(db), clock)
		st, err := c.SoFar(t.Context(), models.Viewer{UserID: e.alice.UserID})
		if err != nil {
			t.Fatal(err)
		}
		// B: 24 h on the 5th/6th; A: 216 h.
		if len(st.Lines) == 0 || st.Lines[0].QuantityMilli != 240_000 || st.Lines[0].Kind != metering.LineVMHours {
			t.Errorf("so far: %+v", st.Lines)
		}
		if n := modelstest.Count(t, db, "statements", "1=1"); n != 0 {
			t.Errorf("a preview wrote %d statements", n)
		}
	})
}
