package election

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// The versions of the election record. /2 adds the commitments of every
// ballot's proofs, so that the verifier checks the proofs of many ballots
// at once (batch.go); /1 records stay verifiable.
const (
	RecordFormat1 = "allmende-election-record/1"
	RecordFormat2 = "allmende-election-record/2"
	RecordFormat  = RecordFormat2 // what the server publishes
)

// Record is the published election record of an assembly's secret items:
// everything needed to recompute the result, and nothing that names a
// voter. `allmende verify-election` checks it with Verify.
type Record struct {
	Format     string          `json:"format"`
	ElectionID string          `json:"election_id"` // the assembly
	Title      string          `json:"title"`
	Threshold  int             `json:"threshold"`
	Trustees   []TrusteePublic `json:"trustees"`
	PublicKey  *Point          `json:"public_key"`
	Items      []ItemRecord    `json:"items"`
}

// ItemRecord is one secret item: its question, the ballots in the tally
// (the last ballot of each voter where voting again is allowed), the tally,
// the trustees' partial decryptions and the result per option.
type ItemRecord struct {
	ID          string           `json:"id"`
	Title       string           `json:"title"`
	Options     []string         `json:"options"` // labels, in ballot order
	Min         int              `json:"min"`
	Max         int              `json:"max"`
	Ballots     []RecordedBallot `json:"ballots"`
	Tally       []Ciphertext     `json:"tally"`
	Decryptions []Decryption     `json:"decryptions"`
	Result      []int            `json:"result"` // count per option
}

// Question is the item's ballot shape.
func (it ItemRecord) Question() Question {
	return Question{Options: len(it.Options), Min: it.Min, Max: it.Max}
}

// RecordedBallot is a ballot with its tracker, and in a record of format
// /2 the commitments of its proofs (which the tracker does not cover: they
// follow from the ballot).
type RecordedBallot struct {
	Tracker string `json:"tracker"`
	Ballot
	Commitments Commitments `json:"commitments,omitempty"`
}

// ReadRecord decodes a record, refusing unknown fields (a record that says
// more than this verifier understands is not verified by it). The ballots,
// most of a record, are decoded on all cores: each holds group elements
// whose decoding (a square root) dominates reading a large record.
func ReadRecord(r io.Reader) (*Record, error) {
	type rawItem struct {
		ItemRecord
		Ballots []json.RawMessage `json:"ballots"`
	}
	var raw struct {
		Record
		Items []rawItem `json:"items"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not an election record: %w", err)
	}
	rec := raw.Record
	rec.Items = make([]ItemRecord, len(raw.Items))
	for i, it := range raw.Items {
		rec.Items[i] = it.ItemRecord
		rec.Items[i].Ballots = make([]RecordedBallot, len(it.Ballots))
		errs := make([]error, len(it.Ballots))
		forAll(len(it.Ballots), func(j int) {
			d := json.NewDecoder(bytes.NewReader(it.Ballots[j]))
			d.DisallowUnknownFields()
			if err := d.Decode(&rec.Items[i].Ballots[j]); err != nil {
				errs[j] = fmt.Errorf("not an election record: item %d, ballot %d: %w", i+1, j+1, err)
			}
		})
		if err := errors.Join(errs...); err != nil {
			return nil, errs[slices.IndexFunc(errs, func(e error) bool { return e != nil })]
		}
	}
	return &rec, nil
}

// forAll runs fn(0) … fn(n−1) on all cores.
func forAll(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// Summary is what Verify found: per item, ballots and result.
type Summary struct {
	Items []ItemSummary
}

type ItemSummary struct {
	ID, Title string
	Ballots   int
	Options   []string
	Result    []int
	Trustees  []int // whose partial decryptions were checked
}

// Verify recomputes everything the record claims: every trustee's
// commitments and proof, the election key, every ballot's tracker and
// proofs (and that no ballot is a copy of another), the tally as the sum of
// the ballots, every partial decryption's proof against the trustee's
// verification key, and the result from k of them. The first failure is
// returned, saying where.
func Verify(r *Record) (*Summary, error) {
	if r.Format != RecordFormat1 && r.Format != RecordFormat2 {
		return nil, fmt.Errorf("format %q: want %q or %q", r.Format, RecordFormat2, RecordFormat1)
	}
	n, k := len(r.Trustees), r.Threshold
	if n == 0 || k < 1 || k > n {
		return nil, fmt.Errorf("threshold %d of %d trustees: need 1 ≤ k ≤ n", k, n)
	}
	if r.PublicKey == nil {
		return nil, errors.New("no public key")
	}
	ectx := ElectionContext(r.ElectionID, k, n)
	for i, t := range r.Trustees {
		if t.Index != i+1 {
			return nil, fmt.Errorf("trustee %d has index %d: trustees are numbered 1 to n in order", i+1, t.Index)
		}
		if err := CheckTrustee(ectx, k, t); err != nil {
			return nil, err
		}
	}
	if !PublicKey(r.Trustees).equal(r.PublicKey) {
		return nil, errors.New("the public key is not the sum of the trustees' commitments")
	}
	vks := make([]*Point, n+1)
	for j := 1; j <= n; j++ {
		vks[j] = VerificationKey(r.Trustees, j)
	}
	sum := &Summary{}
	seen := map[string]bool{}
	for _, it := range r.Items {
		if seen[it.ID] {
			return nil, fmt.Errorf("item %s appears twice", it.ID)
		}
		seen[it.ID] = true
		s, err := verifyItem(r, it, vks)
		if err != nil {
			return nil, fmt.Errorf("item %q (%s): %w", it.Title, it.ID, err)
		}
		sum.Items = append(sum.Items, *s)
	}
	return sum, nil
}

func verifyItem(r *Record, it ItemRecord, vks []*Point) (*ItemSummary, error) {
	q := it.Question()
	if err := q.validate(); err != nil {
		return nil, err
	}
	ctx := ItemContext(r.ElectionID, it.ID, r.PublicKey, q)
	keys, err := verifyBallots(ctx, r.PublicKey, q, it.Ballots, r.Format == RecordFormat2)
	if err != nil {
		return nil, err
	}
	copies := make(map[string]bool, len(it.Ballots))
	trackers := make(map[string]bool, len(it.Ballots))
	ballots := make([]Ballot, len(it.Ballots))
	for i, b := range it.Ballots {
		if trackers[b.Tracker] {
			return nil, fmt.Errorf("ballot %d: tracker %.12s… appears twice", i+1, b.Tracker)
		}
		trackers[b.Tracker] = true
		key := keys[i]
		if copies[key] {
			return nil, fmt.Errorf("ballot %d (tracker %.12s…) copies the ciphertexts of another ballot", i+1, b.Tracker)
		}
		copies[key] = true
		ballots[i] = b.Ballot
	}
	tally := Tally(q.Options, ballots)
	if len(it.Tally) != q.Options {
		return nil, fmt.Errorf("tally has %d options, want %d", len(it.Tally), q.Options)
	}
	for i, ct := range tally {
		if !it.Tally[i].valid() || !ct.A.equal(it.Tally[i].A) || !ct.B.equal(it.Tally[i].B) {
			return nil, fmt.Errorf("the tally of option %d is not the sum of the ballots", i+1)
		}
	}
	var who []int
	for _, d := range it.Decryptions {
		if d.Trustee < 1 || d.Trustee >= len(vks) || slices.Contains(who, d.Trustee) {
			return nil, fmt.Errorf("partial decryption by unknown or repeated trustee %d", d.Trustee)
		}
		if err := VerifyDecryption(ctx, vks[d.Trustee], tally, d); err != nil {
			return nil, err
		}
		who = append(who, d.Trustee)
	}
	if len(it.Decryptions) < r.Threshold {
		return nil, fmt.Errorf("%d partial decryptions, %d needed", len(it.Decryptions), r.Threshold)
	}
	result, err := Combine(r.Threshold, tally, it.Decryptions, len(ballots))
	if err != nil {
		return nil, err
	}
	if !slices.Equal(result, it.Result) {
		return nil, fmt.Errorf("the result is %v, the record says %v", result, it.Result)
	}
	return &ItemSummary{ID: it.ID, Title: it.Title, Ballots: len(ballots), Options: it.Options, Result: result, Trustees: who}, nil
}

// verifyBallots checks every ballot's proofs and tracker on all cores and
// returns each ballot's CiphertextKey (for the copy check); the failure
// reported is that of the first bad ballot in record order, so the message
// does not depend on scheduling. batched (format /2): each ballot carries
// its proofs' commitments, whose hashes are checked ballot by ballot and
// whose equations chunk by chunk (batch.go); otherwise (/1) each proof is
// checked alone and a ballot must not carry commitments.
func verifyBallots(ctx []byte, y *Point, q Question, bs []RecordedBallot, batched bool) ([]string, error) {
	errs := make([]error, len(bs))
	keys := make([]string, len(bs))
	forAll(len(bs), func(i int) {
		b := bs[i]
		var err error
		switch {
		case batched:
			err = checkHashes(ctx, q, b.Ballot, b.Commitments)
		case b.Commitments != nil:
			err = fmt.Errorf("%w: a record of format %s carries no commitments", ErrMalformed, RecordFormat1)
		default:
			err = VerifyBallot(ctx, y, q, b.Ballot)
		}
		if err != nil {
			errs[i] = err
		} else if t := Tracker(ctx, b.Ballot); t != b.Tracker {
			errs[i] = fmt.Errorf("tracker %.12s… does not match the ballot (%.12s…)", b.Tracker, t)
		} else {
			keys[i] = CiphertextKey(b.Ballot)
		}
	})
	if batched {
		batchVerify(ctx, y, q, bs, errs)
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("ballot %d (tracker %.12s…): %w", i+1, bs[i].Tracker, err)
		}
	}
	return keys, nil
}

// AddCommitments gives every ballot of an item that has none the
// commitments of its proofs (checking it again): for ballots stored before
// the server kept them, when it writes a record of format /2.
func AddCommitments(ctx []byte, y *Point, q Question, bs []RecordedBallot) error {
	errs := make([]error, len(bs))
	forAll(len(bs), func(i int) {
		if bs[i].Commitments == nil {
			bs[i].Commitments, errs[i] = CheckBallot(ctx, y, q, bs[i].Ballot)
		}
	})
	return errors.Join(errs...)
}

// DecodeBallots decodes stored ballots (JSON) on all cores; the server's
// tally reads every ballot of an item at once. Stored commitments are
// skipped: the tally does not need them.
func DecodeBallots(raw [][]byte) ([]Ballot, error) {
	out := make([]Ballot, len(raw))
	errs := make([]error, len(raw))
	forAll(len(raw), func(i int) {
		errs[i] = json.Unmarshal(raw[i], &out[i])
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("decode ballots: %w", err)
	}
	return out, nil
}

// DecodeRecordedBallots decodes stored ballots with their commitments (a
// StoredBallot each) on all cores, for the record.
func DecodeRecordedBallots(raw [][]byte) ([]RecordedBallot, error) {
	out := make([]RecordedBallot, len(raw))
	errs := make([]error, len(raw))
	forAll(len(raw), func(i int) {
		var sb StoredBallot
		errs[i] = json.Unmarshal(raw[i], &sb)
		out[i] = RecordedBallot{Ballot: sb.Ballot, Commitments: sb.Commitments}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("decode ballots: %w", err)
	}
	return out, nil
}

// StoredBallot is what the server stores of an accepted ballot: the ballot
// and the commitments CheckBallot found, so that the record of format /2
// needs no second check of every ballot.
type StoredBallot struct {
	Ballot
	Commitments Commitments `json:"commitments,omitempty"`
}
