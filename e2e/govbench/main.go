// Command govbench measures voting at a general assembly of 10,000 members
// on SQLite, on this machine:
//
//	go run ./e2e/govbench [-members 10000] [-c 8] [-window 10000] [-cpuprofile cast.pprof] [-tallyprofile tally.pprof] [-strict]
//
// Set-up (not measured): a fresh SQLite database in a temporary directory
// with the portal's migrations; the members are bulk-inserted with plain SQL
// in a few large transactions — the rows an admission writes (account,
// member role, membership with member number and admission date today,
// the subscription of one share, the "admitted" event, the member-number
// counter) but not its audit entry and welcome mail — because applying and
// approving 10,000 members one by one would take longer than the
// benchmark. The board then convenes an assembly through the domain:
// CreateAssembly, five AddItem (three named ordinary motions, a secret
// change of the bylaws and a secret ordinary motion), SendInvitations (one
// mail job per member; OpenVoting requires it) and OpenVoting.
//
// Measured: every member casts a ballot on every item through
// Governance.Cast from -c goroutines (SQLite has one writer connection, so
// concurrency overlaps only the Go work around it, and a cast's latency
// includes the wait for that connection). Reported: ballots/s over the run
// and per window of -window ballots, p50/p99 latency per cast; then
// CloseVoting (which tallies, writes the result file and decides) and Tally
// (the recount from the stored ballots), each timed on its own. The counts
// are checked against the ballots sent, and the recount's hash against the
// published one.
//
// Targets (from the issue): ≥ 2,000 ballots/s sustained — every window, not
// only the average — and a tally under 1 s, both at close and on recount.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"allmende/jobs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/governance"
	"allmende/models/rulebook"
)

const (
	minRate  = 2000.0 // ballots/s, every window
	maxTally = time.Second
)

type options struct {
	members      int
	concurrency  int
	window       int
	cpuProfile   string
	tallyProfile string
	strict       bool
}

func main() {
	var o options
	flag.IntVar(&o.members, "members", 10000, "members, each casting one ballot per item")
	flag.IntVar(&o.concurrency, "c", 8, "goroutines casting ballots")
	flag.IntVar(&o.window, "window", 10000, "ballots per window of the sustained rate")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the casting phase to this file")
	flag.StringVar(&o.tallyProfile, "tallyprofile", "", "write a CPU profile of CloseVoting and Tally to this file")
	flag.BoolVar(&o.strict, "strict", false, "exit with status 1 when a target is missed")
	flag.Parse()
	if o.members < 1 || o.concurrency < 1 || o.window < 1 {
		fmt.Fprintln(os.Stderr, "govbench: need -members, -c and -window ≥ 1")
		os.Exit(2)
	}
	met, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "govbench:", err)
		os.Exit(1)
	}
	if o.strict && !met {
		os.Exit(1)
	}
}

// item is one agenda item of the benchmark and the share of each choice
// its voters take.
type item struct {
	in      governance.ItemInput
	yes, no float64 // the rest abstain
	id      string
	want    map[string]int // choice → ballots sent
}

func agenda() []*item {
	return []*item{
		{in: governance.ItemInput{Title: "Approval of the annual accounts", Kind: governance.ItemOrdinary}, yes: 0.70, no: 0.20},
		{in: governance.ItemInput{Title: "Discharge of the board", Kind: governance.ItemOrdinary}, yes: 0.55, no: 0.35},
		{in: governance.ItemInput{Title: "Budget for new hosts", Kind: governance.ItemOrdinary}, yes: 0.40, no: 0.50},
		{in: governance.ItemInput{Title: "Change of the bylaws: notice period", Kind: governance.ItemBylawChange}, yes: 0.80, no: 0.15},
		{in: governance.ItemInput{Title: "Remuneration of the supervisory board", Kind: governance.ItemOrdinary}, yes: 0.45, no: 0.45},
	}
}

type member struct{ actor models.Actor }

type ballot struct {
	voter  int
	item   int
	choice string
}

func run(o options) (met bool, err error) {
	began := time.Now()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "alm-govbench")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := models.Open(filepath.Join(dir, "allmende.db"))
	if err != nil {
		return false, err
	}
	defer db.Close()
	if err := models.Migrate(ctx, db); err != nil {
		return false, err
	}
	if err := jobs.Migrate(ctx, db, logger); err != nil {
		return false, err
	}
	queue, err := jobs.NewInsertOnly(db, logger)
	if err != nil {
		return false, err
	}
	// A clock the benchmark moves: invitations go out with due notice
	// (§46 GenG), voting opens on its day and closes at its end.
	clock := models.NewManualClock(time.Now().UTC())
	rules := rulebook.NewRules(db, clock)
	g := governance.NewGovernance(db, queue, rules, clock)

	// Set-up.
	t0 := time.Now()
	board, err := insertBoard(ctx, db.SQL)
	if err != nil {
		return false, fmt.Errorf("board account: %w", err)
	}
	members, err := insertMembers(ctx, db.SQL, o.members)
	if err != nil {
		return false, fmt.Errorf("members: %w", err)
	}
	tMembers := time.Since(t0)
	boardV := models.Viewer{UserID: board.UserID}

	t0 = time.Now()
	now := clock.Now()
	votingStart := now.AddDate(0, 0, 30)
	a, err := g.CreateAssembly(ctx, board, boardV, governance.AssemblyInput{Title: "General assembly (benchmark)", Form: governance.FormVirtual,
		AccessDetails: "In the portal.", VotingStart: votingStart, VotingEnd: votingStart.Add(7 * 24 * time.Hour)})
	if err != nil {
		return false, fmt.Errorf("create assembly: %w", err)
	}
	items := agenda()
	for _, it := range items {
		ai, err := g.AddItem(ctx, board, boardV, a.ID, it.in)
		if err != nil {
			return false, fmt.Errorf("add item %q: %w", it.in.Title, err)
		}
		it.id = ai.ID
		it.want = map[string]int{}
	}
	tAgenda := time.Since(t0)
	t0 = time.Now()
	if err := g.SendInvitations(ctx, board, boardV, a.ID); err != nil {
		return false, fmt.Errorf("send invitations: %w", err)
	}
	tInvite := time.Since(t0)
	clock.Set(votingStart)
	t0 = time.Now()
	if err := g.OpenVoting(ctx, board, boardV, a.ID); err != nil {
		return false, fmt.Errorf("open voting: %w", err)
	}
	tOpen := time.Since(t0)

	// The ballots, member by member, with fixed pseudo-random choices.
	rng := rand.New(rand.NewPCG(1, 2))
	ballots := make([]ballot, 0, o.members*len(items))
	for m := range members {
		for i, it := range items {
			choice := governance.ChoiceAbstain
			switch r := rng.Float64(); {
			case r < it.yes:
				choice = governance.ChoiceYes
			case r < it.yes+it.no:
				choice = governance.ChoiceNo
			}
			it.want[choice]++
			ballots = append(ballots, ballot{voter: m, item: i, choice: choice})
		}
	}

	fmt.Printf("govbench: %d members × %d items = %d ballots, %d goroutines, %d CPUs (GOMAXPROCS %d), SQLite (WAL, one writer)\n",
		o.members, len(items), len(ballots), o.concurrency, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if busy := loadAverage(); busy > 0.5 {
		fmt.Printf("note: load average %.2f before the start; other processes share the CPUs, so the numbers are noisy\n", busy)
	}
	fmt.Printf("set-up (not measured): %d members bulk-inserted in %s; CreateAssembly+%d×AddItem %s; SendInvitations (%d mails) %s; OpenVoting %s\n\n",
		o.members, secs(tMembers), len(items), ms(tAgenda), o.members, secs(tInvite), ms(tOpen))

	// Measured: casting.
	stopProfile, err := startProfile(o.cpuProfile)
	if err != nil {
		return false, err
	}
	lat := make([]time.Duration, len(ballots)) // by completion order
	done := make([]time.Time, len(ballots))
	var next, completed atomic.Int64
	var failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	castStart := time.Now()
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1)) - 1
				if n >= len(ballots) {
					return
				}
				b := ballots[n]
				who := members[b.voter].actor
				s := time.Now()
				_, err := g.Cast(ctx, who, models.Viewer{UserID: who.UserID}, a.ID, items[b.item].id, governance.BallotInput{Choice: b.choice})
				e := time.Now()
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = fmt.Errorf("cast by %s on item %d: %w", who.Email, b.item+1, err) })
					continue
				}
				k := completed.Add(1) - 1
				lat[k], done[k] = e.Sub(s), e
			}
		}()
	}
	wg.Wait()
	castWall := time.Since(castStart)
	stopProfile()
	if n := failed.Load(); n > 0 {
		return false, fmt.Errorf("%d of %d casts failed, the first: %w", n, len(ballots), firstErr)
	}

	// Measured: closing and recounting.
	stopProfile, err = startProfile(o.tallyProfile)
	if err != nil {
		return false, err
	}
	t0 = time.Now()
	clock.Set(a.VotingEnd)
	closed, err := g.CloseVoting(ctx, board, boardV, a.ID)
	tClose := time.Since(t0)
	if err != nil {
		stopProfile()
		return false, fmt.Errorf("close voting: %w", err)
	}
	t0 = time.Now()
	recount, err := g.Tally(ctx, a.ID)
	tTally := time.Since(t0)
	stopProfile()
	if err != nil {
		return false, fmt.Errorf("tally: %w", err)
	}
	if err := check(items, o.members, closed, recount); err != nil {
		return false, err
	}

	// Report.
	total := float64(len(ballots)) / castWall.Seconds()
	minWin := total
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "phase\tballots\ttime\tballots/s\tp50\tp99\t")
	fmt.Fprintf(w, "Cast, all\t%d\t%s\t%.0f\t%s\t%s\t\n", len(ballots), secs(castWall), total, ms(pct(lat, 50)), ms(pct(lat, 99)))
	prev := castStart
	for from := 0; from < len(ballots); from += o.window {
		to := min(from+o.window, len(ballots))
		end := done[from]
		for _, t := range done[from:to] { // completion numbers may be taken slightly out of time order
			if t.After(end) {
				end = t
			}
		}
		d := end.Sub(prev)
		rate := float64(to-from) / d.Seconds()
		minWin = min(minWin, rate)
		fmt.Fprintf(w, "Cast, ballots %d–%d\t%d\t%s\t%.0f\t%s\t%s\t\n", from+1, to, to-from, secs(d), rate,
			ms(pct(lat[from:to], 50)), ms(pct(lat[from:to], 99)))
		prev = end
	}
	fmt.Fprintf(w, "CloseVoting (tally + result file + decide)\t%d\t%s\t\t\t\t\n", len(ballots), ms(tClose))
	fmt.Fprintf(w, "Tally (recount from stored ballots)\t%d\t%s\t\t\t\t\n", len(ballots), ms(tTally))
	w.Flush()

	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "item\tballot\tyes\tno\tabstain\tmajority\tresult\t")
	for i, r := range closed.Items {
		kind := "named"
		if r.Secret {
			kind = "secret"
		}
		res := "rejected"
		if r.Adopted {
			res = "adopted"
		}
		fmt.Fprintf(w, "%d. %s (%s)\t%s\t%d\t%d\t%d\t%d/%d\t%s\t\n", i+1, r.Title, r.Kind, kind, r.Yes, r.No, r.Abstain,
			r.MajorityNum, r.MajorityDen, res)
	}
	w.Flush()
	fmt.Printf("counts match the ballots sent; the recount's hash matches the published one (%s…, result file %d KiB)\n\n",
		closed.ResultHash[:16], len(closed.ResultFile)/1024)

	rateOK := minWin >= minRate
	closeOK, tallyOK := tClose < maxTally, tTally < maxTally
	fmt.Printf("sustained rate: %.0f ballots/s over the run, slowest window %.0f (target ≥ %.0f in every window): %s\n",
		total, minWin, minRate, verdict(rateOK))
	fmt.Printf("tally at close: %s (target < %s): %s\n", ms(tClose), maxTally, verdict(closeOK))
	fmt.Printf("recount: %s (target < %s): %s\n", ms(tTally), maxTally, verdict(tallyOK))
	if o.cpuProfile != "" {
		fmt.Printf("CPU profile of the casting: go tool pprof -top %s\n", o.cpuProfile)
	}
	if o.tallyProfile != "" {
		fmt.Printf("CPU profile of close and recount: go tool pprof -top %s\n", o.tallyProfile)
	}
	fmt.Printf("whole program: %s\n", secs(time.Since(began)))
	return rateOK && closeOK && tallyOK, nil
}

// check compares both counts with the ballots sent.
func check(items []*item, members int, closed, recount *governance.AssemblyResults) error {
	if closed.ResultHash != recount.ResultHash {
		return fmt.Errorf("the recount's hash %s differs from the published %s", recount.ResultHash, closed.ResultHash)
	}
	if len(closed.Items) != len(items) {
		return fmt.Errorf("results for %d items, want %d", len(closed.Items), len(items))
	}
	for i, r := range closed.Items {
		it := items[i]
		if r.ItemID != it.id {
			return fmt.Errorf("result %d is for item %s, want %s", i+1, r.ItemID, it.id)
		}
		if r.Yes != it.want[governance.ChoiceYes] || r.No != it.want[governance.ChoiceNo] || r.Abstain != it.want[governance.ChoiceAbstain] ||
			r.Cast != members || r.Electorate != members || len(r.Ballots) != members {
			return fmt.Errorf("item %d %q: counted yes %d no %d abstain %d cast %d electorate %d, sent yes %d no %d abstain %d of %d",
				i+1, r.Title, r.Yes, r.No, r.Abstain, r.Cast, r.Electorate,
				it.want[governance.ChoiceYes], it.want[governance.ChoiceNo], it.want[governance.ChoiceAbstain], members)
		}
		for _, b := range r.Ballots {
			if (b.Code != "") != r.Secret || (b.Voter != "") == r.Secret {
				return fmt.Errorf("item %d %q: a published ballot %+v does not fit a %s vote", i+1, r.Title, b,
					map[bool]string{true: "secret", false: "named"}[r.Secret])
			}
		}
	}
	return nil
}

func insertBoard(ctx context.Context, db *sql.DB) (models.Actor, error) {
	id, email, now := uuid.Must(uuid.NewV7()).String(), "board@bench.example", time.Now().UTC()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return models.Actor{}, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, 'x', ?, ?)`,
		id, email, "Bench Board", now, now); err != nil {
		return models.Actor{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role, granted_at) VALUES (?, ?, ?)`, id, account.RoleBoard, now); err != nil {
		return models.Actor{}, err
	}
	return models.Actor{UserID: id, Email: email, IP: "192.0.2.1"}, tx.Commit()
}

// insertMembers writes what an admission writes for n members (see the
// package comment), a few thousand members per transaction. Passwords are
// not hashed ('x' cannot be signed in with): nobody logs in here.
func insertMembers(ctx context.Context, db *sql.DB, n int) ([]member, error) {
	const perTx = 2500
	now := time.Now().UTC()
	y, mo, d := now.Date()
	today := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	out := make([]member, 0, n)
	stmts := []string{
		`INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, 'x', ?, ?)`,
		`INSERT INTO user_roles (user_id, role, granted_at) VALUES (?, 'member', ?)`,
		`INSERT INTO memberships (id, user_id, status, member_number, person_kind, legal_name, street, postal_code, city, country,
			shares_applied, sepa_mandate, iban, account_holder, bylaws_version, bylaws_accepted_at, declaration, applied_at, admitted_on, created_at, updated_at)
			VALUES (?, ?, 'member', ?, 'natural', ?, 'Hauptstraße 1', '10115', 'Berlin', 'DE', 1, TRUE, 'DE89370400440532013000', ?, '2026-1', ?, 'x', ?, ?, ?, ?)`,
		`INSERT INTO share_transactions (id, membership_id, kind, shares, effective_date, note, created_by, created_at)
			VALUES (?, ?, 'subscription', 1, ?, 'admission', 'system:govbench', ?)`,
		`INSERT INTO membership_events (id, membership_id, kind, effective_date, detail, created_at) VALUES (?, ?, 'admitted', ?, ?, ?)`,
	}
	for from := 0; from < n; from += perTx {
		err := func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			ps := make([]*sql.Stmt, len(stmts))
			for i, s := range stmts {
				if ps[i], err = tx.PrepareContext(ctx, s); err != nil {
					return err
				}
				defer ps[i].Close()
			}
			for i := from; i < min(from+perTx, n); i++ {
				uid, mid := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
				number := i + 1
				email, name := fmt.Sprintf("member%05d@bench.example", number), fmt.Sprintf("Member %05d", number)
				for j, args := range [][]any{
					{uid, email, name, now, now},
					{uid, now},
					{mid, uid, number, name, name, now, now, today, now, now},
					{uuid.Must(uuid.NewV7()).String(), mid, today, now},
					{uuid.Must(uuid.NewV7()).String(), mid, today, fmt.Sprintf("admitted as member %d with 1 shares", number), now},
				} {
					if _, err := ps[j].ExecContext(ctx, args...); err != nil {
						return fmt.Errorf("member %d: %w", number, err)
					}
				}
				out = append(out, member{actor: models.Actor{UserID: uid, Email: email, IP: "192.0.2.9"}})
			}
			// The member-number counter, as admissions leave it.
			if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = ? WHERE name = 'member_number'`, min(from+perTx, n)); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "govbench: write profile:", err)
		}
	}, nil
}

// pct is the nearest-rank percentile.
func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}

// loadAverage is the 1-minute load average, or 0 where /proc has none.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var f float64
	if _, err := fmt.Sscan(string(b), &f); err != nil {
		return 0
	}
	return f
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
