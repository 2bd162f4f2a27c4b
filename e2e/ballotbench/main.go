// Command ballotbench measures verifiable secret ballots (issue 13) on this
// machine:
//
//	go run ./e2e/ballotbench [-ballots 10000] [-items 5] [-browser 60] [-verify 2000] [-format 2]
//
// (-browser 0 skips the Chromium part; -format 1 writes the record in the
// old format, whose proofs are verified one by one.)
//
// Browser: headless Chromium loads static/ballot.js from a local server and
// encrypts -browser ballots with their proofs, timed in the page
// (performance.now): a yes/no/abstain item, and an election of two of five
// candidates. Target: ≤ 150 ms per yes/no/abstain ballot.
//
// Server verification: VerifyBallot (what CastEncrypted does before it
// stores a ballot) on -verify yes/no/abstain ballots, on one goroutine and
// on all cores. Target: ≥ 500 ballots/s.
//
// Tally and decryption of -ballots ballots on each of -items items (four
// yes/no/abstain items and one election of two of five candidates):
// decoding the stored ballot JSON, the homomorphic sums, two of three
// trustees' partial decryptions with proofs, their verification by the
// server and the combination with the discrete-log search. Target ≤ 10 s.
//
// Record verification: the election record of all of them written to a
// file, read back and verified as `allmende verify-election` does. Target
// ≤ 30 s. The ballots are stored with their proofs' commitments, as the
// server stores them (record format /2, batch verification).
//
// Set-up (not measured): the key ceremony of three simulated trustees and
// the encryption of every ballot in Go, on all cores. Times are wall-clock;
// CPU time is given beside them, since the machine may be shared.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"

	"allmende/election"
	"allmende/static"
)

func main() {
	nBallots := flag.Int("ballots", 10000, "ballots per item for the tally and the record")
	nItems := flag.Int("items", 5, "secret items (the last one an election)")
	nBrowser := flag.Int("browser", 60, "ballots encrypted in Chromium (of each kind)")
	nVerify := flag.Int("verify", 2000, "ballots for the verification rate")
	format := flag.Int("format", 2, "election record format (1 or 2)")
	flag.Parse()
	recordFormat = map[int]string{1: election.RecordFormat1, 2: election.RecordFormat2}[*format]
	if recordFormat == "" {
		fmt.Fprintln(os.Stderr, "ballotbench: -format 1 or 2")
		os.Exit(2)
	}
	if err := run(*nBallots, *nItems, *nBrowser, *nVerify); err != nil {
		fmt.Fprintln(os.Stderr, "ballotbench:", err)
		os.Exit(1)
	}
}

const eid = "bench-assembly"

var recordFormat string

type item struct {
	id    string
	q     election.Question
	ctx   []byte
	label []string
}

func run(nBallots, nItems, nBrowser, nVerify int) error {
	fmt.Printf("ballotbench: %d CPUs, GOMAXPROCS %d\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	ts, y, err := election.SimulateCeremony(eid, 2, 3)
	if err != nil {
		return err
	}
	items := make([]item, nItems)
	for i := range items {
		it := item{id: fmt.Sprintf("item-%d", i+1), q: election.Question{Options: 3, Min: 1, Max: 1}, label: []string{"yes", "no", "abstain"}}
		if i == nItems-1 {
			it.q, it.label = election.Question{Options: 6, Min: 1, Max: 2}, []string{"A", "B", "C", "D", "E", "abstain"}
		}
		it.ctx = election.ItemContext(eid, it.id, y, it.q)
		items[i] = it
	}

	// 1. Browser (-browser 0 skips it).
	if nBrowser > 0 {
		if err := browserBench(y, items[0], items[len(items)-1], nBrowser); err != nil {
			return fmt.Errorf("browser: %w", err)
		}
	}

	// 2. Server verification.
	fmt.Printf("\nset-up: encrypting %d ballots for the verification rate…\n", nVerify)
	vb, _ := encryptMany(y, items[0], nVerify, 1, false)
	for i := range vb { // the server verifies ballots it decoded from JSON
		j, _ := json.Marshal(vb[i])
		vb[i] = election.Ballot{}
		if err := json.Unmarshal(j, &vb[i]); err != nil {
			return err
		}
	}
	cpu0, t0 := cpuTime(), time.Now()
	for _, b := range vb {
		if err := election.VerifyBallot(items[0].ctx, y, items[0].q, b); err != nil {
			return err
		}
	}
	d, c := time.Since(t0), cpuTime()-cpu0
	fmt.Printf("server verification, one goroutine: %d ballots in %s = %.0f ballots/s (CPU %.2f ms per ballot; target ≥ 500/s)\n",
		nVerify, d.Round(time.Millisecond), float64(nVerify)/d.Seconds(), ms(c)/float64(nVerify))
	cpu0, t0 = cpuTime(), time.Now()
	parallel(len(vb), func(i int) {
		if err := election.VerifyBallot(items[0].ctx, y, items[0].q, vb[i]); err != nil {
			panic(err)
		}
	})
	d, c = time.Since(t0), cpuTime()-cpu0
	fmt.Printf("server verification, all cores:     %d ballots in %s = %.0f ballots/s (CPU %.2f ms per ballot)\n",
		nVerify, d.Round(time.Millisecond), float64(nVerify)/d.Seconds(), ms(c)/float64(nVerify))

	// 3. Tally and decryption.
	fmt.Printf("\nset-up: encrypting %d ballots × %d items on all cores…\n", nBallots, nItems)
	tSetup := time.Now()
	stored := make([][][]byte, nItems) // ballot JSON, as the database holds it
	commitments := make([][]election.Commitments, nItems)
	for i, it := range items {
		bs, comm := encryptMany(y, it, nBallots, uint64(i), recordFormat == election.RecordFormat2)
		for j, b := range bs {
			raw, _ := json.Marshal(election.StoredBallot{Ballot: b, Commitments: comm[j]})
			stored[i] = append(stored[i], raw)
		}
		commitments[i] = comm
	}
	fmt.Printf("set-up took %s\n", time.Since(tSetup).Round(time.Second))
	pubs := make([]election.TrusteePublic, len(ts))
	for i, t := range ts {
		pubs[i] = t.Public
	}
	rec := &election.Record{Format: recordFormat, ElectionID: eid, Title: "Benchmark", Threshold: 2, Trustees: pubs, PublicKey: y}
	cpu0, t0 = cpuTime(), time.Now()
	var decodeD, tallyD, partialD, checkD, combineD time.Duration
	for i, it := range items {
		s := time.Now()
		ballots, err := election.DecodeBallots(stored[i]) // as the server reads them
		if err != nil {
			return err
		}
		decodeD += time.Since(s)
		s = time.Now()
		tally := election.Tally(it.q.Options, ballots)
		tallyD += time.Since(s)
		s = time.Now()
		decs := []election.Decryption{election.PartialDecrypt(it.ctx, 1, ts[0].Share, tally), election.PartialDecrypt(it.ctx, 3, ts[2].Share, tally)}
		partialD += time.Since(s)
		s = time.Now()
		for _, dd := range decs {
			if err := election.VerifyDecryption(it.ctx, election.VerificationKey(pubs, dd.Trustee), tally, dd); err != nil {
				return err
			}
		}
		checkD += time.Since(s)
		s = time.Now()
		res, err := election.Combine(2, tally, decs, len(ballots))
		if err != nil {
			return err
		}
		combineD += time.Since(s)
		ir := election.ItemRecord{ID: it.id, Title: it.id, Options: it.label, Min: it.q.Min, Max: it.q.Max, Tally: tally, Decryptions: decs, Result: res}
		for j, b := range ballots {
			ir.Ballots = append(ir.Ballots, election.RecordedBallot{Tracker: election.Tracker(it.ctx, b), Ballot: b, Commitments: commitments[i][j]})
		}
		rec.Items = append(rec.Items, ir)
		fmt.Printf("  %s: %v\n", it.id, res)
	}
	d, c = time.Since(t0)-0, cpuTime()-cpu0
	fmt.Printf("tally and decryption, %d ballots × %d items: %s (decode %s, sums %s, partial decryptions %s, their checks %s, combination and discrete log %s; CPU %s; target ≤ 10 s)\n",
		nBallots, nItems, (decodeD + tallyD + partialD + checkD + combineD).Round(time.Millisecond), decodeD.Round(time.Millisecond),
		tallyD.Round(time.Millisecond), partialD.Round(time.Millisecond), checkD.Round(time.Millisecond), combineD.Round(time.Millisecond), c.Round(time.Millisecond))
	_ = d

	// 4. Record verification.
	dir, err := os.MkdirTemp("", "ballotbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "election.json")
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return err
	}
	cpu0, t0 = cpuTime(), time.Now()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	parsed, err := election.ReadRecord(f)
	f.Close()
	if err != nil {
		return err
	}
	if _, err := election.Verify(parsed); err != nil {
		return err
	}
	d, c = time.Since(t0), cpuTime()-cpu0
	fmt.Printf("record verification (%s, %d ballots, %.0f MB): %s (CPU %s; target ≤ 30 s)\n", recordFormat, nBallots*nItems, float64(len(raw))/1e6,
		d.Round(time.Millisecond), c.Round(time.Millisecond))
	return nil
}

// encryptMany encrypts n random valid ballots of an item on all cores, and
// with commit also checks each as the server does on casting, which gives
// the commitments it stores.
func encryptMany(y *election.Point, it item, n int, seed uint64, commit bool) ([]election.Ballot, []election.Commitments) {
	out := make([]election.Ballot, n)
	comm := make([]election.Commitments, n)
	parallel(n, func(i int) {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		votes := make([]int, it.q.Options)
		if it.q.Max == 1 {
			votes[r.IntN(it.q.Options)] = 1
		} else if r.IntN(10) == 0 {
			votes[it.q.Options-1] = 1
		} else {
			for _, c := range r.Perm(it.q.Options - 1)[:1+r.IntN(it.q.Max)] {
				votes[c] = 1
			}
		}
		b, _, err := election.EncryptBallot(it.ctx, y, it.q, votes)
		if err != nil {
			panic(err)
		}
		out[i] = b
		if commit {
			if comm[i], err = election.CheckBallot(it.ctx, y, it.q, b); err != nil {
				panic(err)
			}
		}
	})
	return out, comm
}

func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// browserBench encrypts ballots with static/ballot.js in headless Chromium.
func browserBench(y *election.Point, motion, elect item, n int) error {
	sub, err := fs.Sub(static.FS(), ".")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<!DOCTYPE html><title>ballotbench</title><p>ballotbench</p>")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath("/usr/bin/chromium"), chromedp.Headless,
		chromedp.NoSandbox, chromedp.Flag("disable-gpu", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelT()
	if _, err := chromedp.Run(ctx, chromedp.NavigateResponse("http://"+ln.Addr().String()+"/")); err != nil {
		return err
	}
	for _, it := range []item{motion, elect} {
		votes := make([]int, it.q.Options)
		votes[0] = 1
		if it.q.Max > 1 {
			votes[2] = 1
		}
		vj, _ := json.Marshal(votes)
		script := fmt.Sprintf(`(async () => {
			const B = await import('/static/ballot.js');
			const y = B.point(%q);
			const q = {options: %d, min: %d, max: %d};
			const ctx = B.itemContext(%q, %q, y, q);
			B.encryptBallot(ctx, y, q, %s); // warm-up
			const times = [];
			let last;
			for (let i = 0; i < %d; i++) {
				const t0 = performance.now();
				last = B.encryptBallot(ctx, y, q, %s);
				times.push(performance.now() - t0);
			}
			return {times, ballot: last.ballot};
		})()`, y.String(), it.q.Options, it.q.Min, it.q.Max, eid, it.id, vj, n, vj)
		out, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
			Times  []float64       `json:"times"`
			Ballot election.Ballot `json:"ballot"`
		}](script, chromedp.EvalAwaitPromise))
		if err != nil {
			return err
		}
		if err := election.VerifyBallot(it.ctx, y, it.q, out.Ballot); err != nil {
			return fmt.Errorf("the browser's ballot does not verify: %w", err)
		}
		slices.Sort(out.Times)
		sum := 0.0
		for _, t := range out.Times {
			sum += t
		}
		kind := "yes/no/abstain"
		if it.q.Max > 1 {
			kind = fmt.Sprintf("election %d of %d candidates", it.q.Max, it.q.Options-1)
		}
		fmt.Printf("browser encryption + proofs, %s: median %.1f ms, p95 %.1f ms, mean %.1f ms over %d ballots (target ≤ 150 ms for yes/no/abstain)\n",
			kind, out.Times[len(out.Times)/2], out.Times[len(out.Times)*95/100], sum/float64(len(out.Times)), len(out.Times))
	}
	return nil
}
