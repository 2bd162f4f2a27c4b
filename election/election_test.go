package election

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

var yesNoAbstain = []string{"yes", "no", "abstain"}

// testRecord is a 2-of-3 election with a yes/no/abstain item and a
// two-seat election of four candidates.
func testRecord(t testing.TB) (*Record, []*SimTrustee) {
	t.Helper()
	const eid = "assembly-1"
	ts, y, err := SimulateCeremony(eid, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	rec := &Record{Format: RecordFormat, ElectionID: eid, Title: "General assembly", Threshold: 2, PublicKey: y}
	for _, tr := range ts {
		rec.Trustees = append(rec.Trustees, tr.Public)
	}
	var votes [][]int
	for i := range 12 {
		v := []int{0, 0, 0}
		v[[]int{0, 0, 0, 0, 0, 1, 1, 1, 2, 0, 1, 0}[i]] = 1
		votes = append(votes, v)
	}
	item, err := SimulateItem(eid, y, ts, 2, "item-1", "Adopt the budget", yesNoAbstain, 1, 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	elect, err := SimulateItem(eid, y, ts, 2, "item-2", "Supervisory board", []string{"A", "B", "C", "D", "abstain"}, 1, 2,
		[][]int{{1, 1, 0, 0, 0}, {0, 1, 0, 1, 0}, {0, 0, 0, 0, 1}, {0, 1, 0, 0, 0}, {1, 0, 1, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	rec.Items = []ItemRecord{item, elect}
	return rec, ts
}

// roundTrip passes the record through JSON, as the verifier reads it.
func roundTrip(t *testing.T, r *Record) *Record {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ReadRecord(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// asFormat1 turns a record into one of format /1: no commitments.
func asFormat1(r *Record) {
	r.Format = RecordFormat1
	for i := range r.Items {
		for j := range r.Items[i].Ballots {
			r.Items[i].Ballots[j].Commitments = nil
		}
	}
}

// formats are the record versions the verifier reads.
var formats = map[string]func(*Record){RecordFormat2: func(*Record) {}, RecordFormat1: asFormat1}

func TestVerifierAcceptsRecord(t *testing.T) {
	for name, format := range formats {
		t.Run(name, func(t *testing.T) {
			rec, _ := testRecord(t)
			format(rec)
			sum, err := Verify(roundTrip(t, rec))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got := sum.Items[0].Result; !slices.Equal(got, []int{7, 4, 1}) {
				t.Errorf("yes/no/abstain = %v, want [7 4 1]", got)
			}
			if got := sum.Items[1].Result; !slices.Equal(got, []int{2, 3, 1, 1, 1}) {
				t.Errorf("election = %v, want [2 3 1 1 1]", got)
			}
		})
	}
}

// TestBatchNamesBadBallot: in a record of format /2 with more ballots than
// one batch, a ballot whose proof equations fail (its hashes still fit: the
// commitments are those of another valid proof) is found by the batch
// check and named, and so is one whose commitments were changed.
func TestBatchNamesBadBallot(t *testing.T) {
	const eid = "batch"
	ts, y, err := SimulateCeremony(eid, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	votes := make([][]int, 2*batchChunk+10)
	for i := range votes {
		votes[i] = []int{0, 0, 0}
		votes[i][i%3] = 1
	}
	it, err := SimulateItem(eid, y, ts, 1, "item", "Item", yesNoAbstain, 1, 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	fresh := func() *Record {
		rec := &Record{Format: RecordFormat2, ElectionID: eid, Title: "Batch", Threshold: 1, PublicKey: y,
			Trustees: []TrusteePublic{ts[0].Public}, Items: []ItemRecord{it}}
		return roundTrip(t, rec)
	}
	if _, err := Verify(fresh()); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// False equations with a true hash: the branch challenges of one proof
	// moved by one each way keep their sum, so only the equations can tell.
	rec := fresh()
	b := &rec.Items[0].Ballots[batchChunk+5]
	b.Proofs[1][0].C = sAdd(b.Proofs[1][0].C, scalarOf(1))
	b.Proofs[1][1].C = sSub(b.Proofs[1][1].C, scalarOf(1))
	b.Tracker = Tracker(ItemContext(eid, "item", y, it.Question()), b.Ballot)
	_, err = Verify(roundTrip(t, rec))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("ballot %d ", batchChunk+6)) || !strings.Contains(err.Error(), "option 2") {
		t.Errorf("changed challenges: %v, want ballot %d, option 2 named", err, batchChunk+6)
	}
	// A changed commitment breaks the hash.
	rec = fresh()
	c := &rec.Items[0].Ballots[7].Commitments[3][0]
	c.B = add(c.B, base())
	if _, err := Verify(roundTrip(t, rec)); err == nil || !strings.Contains(err.Error(), "ballot 8 ") {
		t.Errorf("changed commitment: %v, want ballot 8 named", err)
	}
	// Missing commitments.
	rec = fresh()
	rec.Items[0].Ballots[2].Commitments = rec.Items[0].Ballots[2].Commitments[:2]
	if _, err := Verify(roundTrip(t, rec)); err == nil || !strings.Contains(err.Error(), "ballot 3 ") {
		t.Errorf("missing commitments: %v, want ballot 3 named", err)
	}
	// Commitments in a record of format /1.
	rec = fresh()
	rec.Format = RecordFormat1
	if _, err := Verify(roundTrip(t, rec)); err == nil || !strings.Contains(err.Error(), "carries no commitments") {
		t.Errorf("format /1 with commitments: %v", err)
	}
}

func TestVerifierRejectsChangedRecord(t *testing.T) {
	cases := map[string]struct {
		change func(r *Record)
		want   string
	}{
		"changed ballot": {func(r *Record) {
			b := &r.Items[0].Ballots[3]
			b.Choices[0], b.Choices[1] = b.Choices[1], b.Choices[0]
		}, "ballot 4"},
		"ballot from another": {func(r *Record) {
			r.Items[0].Ballots[2].Choices[0] = r.Items[0].Ballots[5].Choices[0]
		}, "ballot 3"},
		"changed proof": {func(r *Record) {
			p := r.Items[1].Ballots[1].Proofs[2]
			p[0].S = sAdd(p[0].S, scalarOf(1))
			retrack(r, 1, 1) // a forger makes the tracker fit
		}, "ballot 2"},
		"changed overall proof": {func(r *Record) {
			p := r.Items[0].Ballots[0].Overall
			p[0].C = sAdd(p[0].C, scalarOf(1))
			retrack(r, 0, 0)
		}, "ballot 1"},
		"changed proof, same challenge sum": {func(r *Record) {
			p := r.Items[0].Ballots[4].Proofs[0]
			p[0].C, p[1].C = sAdd(p[0].C, scalarOf(5)), sSub(p[1].C, scalarOf(5))
			retrack(r, 0, 4)
		}, "ballot 5"},
		"changed tracker": {func(r *Record) {
			r.Items[0].Ballots[0].Tracker = strings.Repeat("0", 64)
		}, "tracker"},
		"dropped ballot": {func(r *Record) {
			r.Items[0].Ballots = r.Items[0].Ballots[1:]
		}, "tally"},
		"copied ballot": {func(r *Record) {
			r.Items[0].Ballots = append(r.Items[0].Ballots, r.Items[0].Ballots[0])
		}, "twice"},
		"changed partial decryption": {func(r *Record) {
			f := &r.Items[0].Decryptions[1].Factors[0]
			f.D = add(f.D, base())
		}, "partial decryption"},
		"changed result": {func(r *Record) {
			r.Items[1].Result[0]++
		}, "result"},
		"too few decryptions": {func(r *Record) {
			r.Items[0].Decryptions = r.Items[0].Decryptions[:1]
		}, "needed"},
		"changed key": {func(r *Record) {
			r.PublicKey = add(r.PublicKey, base())
		}, "public key"},
		"rogue trustee": {func(r *Record) {
			r.Trustees[2].Commitments[0] = add(r.Trustees[2].Commitments[0], base())
		}, "trustee 3"},
	}
	for format, toFormat := range formats {
		for name, c := range cases {
			t.Run(format+"/"+name, func(t *testing.T) {
				rec, _ := testRecord(t)
				toFormat(rec)
				c.change(rec)
				_, err := Verify(roundTrip(t, rec))
				if err == nil {
					t.Fatal("verifier accepted a changed record")
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q does not say %q", err, c.want)
				}
			})
		}
	}
}

// retrack sets a ballot's tracker to fit the (changed) ballot.
func retrack(r *Record, item, ballot int) {
	it := &r.Items[item]
	b := &it.Ballots[ballot]
	b.Tracker = Tracker(ItemContext(r.ElectionID, it.ID, r.PublicKey, it.Question()), b.Ballot)
}

func TestVerifierRejectsEmptyRecord(t *testing.T) {
	if _, err := ReadRecord(strings.NewReader(`{"surprise": 1}`)); err == nil {
		t.Error("unknown field accepted")
	}
	rec, err := ReadRecord(strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(rec); err == nil {
		t.Error("empty record verified")
	}
}

func TestMalformedBallotRefused(t *testing.T) {
	ts, y, err := SimulateCeremony("e", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = ts
	q := Question{Options: 3, Min: 1, Max: 1}
	ctx := ItemContext("e", "i", y, q)
	good, rs, err := EncryptBallot(ctx, y, q, []int{1, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBallot(ctx, y, q, good); err != nil {
		t.Fatalf("good ballot refused: %v", err)
	}
	// An option encrypting 2, with the best proof a cheater can make (a
	// true proof that it is 1 or 2, in the branches for 0 and 1).
	two := clone(good)
	ct := EncryptWith(y, 2, rs[0])
	two.Choices[0] = ct
	two.Proofs[0] = proveRange(ctx, 0, y, ct, 2, rs[0], 1, 2)
	if err := VerifyBallot(ctx, y, q, two); !errors.Is(err, ErrMalformed) {
		t.Errorf("option encrypting 2: %v", err)
	}
	// Two options chosen on a yes/no/abstain item, each shown 0/1: the
	// overall proof cannot show a sum of 1.
	sum2, rs2, err := EncryptBallot(ctx, y, Question{Options: 4, Min: 0, Max: 2}, []int{1, 1, 0, 0})
	sum2.Choices, sum2.Proofs = sum2.Choices[:3], sum2.Proofs[:3]
	if err != nil {
		t.Fatal(err)
	}
	total := sum2.Choices[0].Add(sum2.Choices[1]).Add(sum2.Choices[2])
	sum2.Overall = proveRange(ctx, overallLabel, y, total, 2, sAdd(sAdd(rs2[0], rs2[1]), rs2[2]), 1, 2)[:1]
	if err := VerifyBallot(ctx, y, q, sum2); !errors.Is(err, ErrMalformed) {
		t.Errorf("two options chosen: %v", err)
	}
	// Abstain with a candidate: abstain weighs Max, so the sum is too big.
	eq := Question{Options: 4, Min: 1, Max: 2}
	ectx := ItemContext("e", "el", y, eq)
	if _, _, err := EncryptBallot(ectx, y, eq, []int{1, 0, 0, 1}); err == nil {
		t.Error("abstain with a candidate encrypted")
	}
	if _, _, err := EncryptBallot(ectx, y, eq, []int{0, 0, 0, 0}); err == nil {
		t.Error("empty election ballot encrypted")
	}
	ab, _, err := EncryptBallot(ectx, y, eq, []int{0, 0, 0, 1})
	if err != nil || VerifyBallot(ectx, y, eq, ab) != nil {
		t.Errorf("abstention refused: %v", err)
	}
	// A wrong proof.
	bad := clone(good)
	bad.Proofs[1][1].C = sAdd(bad.Proofs[1][1].C, scalarOf(1))
	if err := VerifyBallot(ctx, y, q, bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong proof: %v", err)
	}
	// A good ballot for another item.
	other := ItemContext("e", "other", y, q)
	if err := VerifyBallot(other, y, q, good); !errors.Is(err, ErrMalformed) {
		t.Errorf("ballot of another item: %v", err)
	}
	// Missing parts.
	short := clone(good)
	short.Choices = short.Choices[:2]
	if err := VerifyBallot(ctx, y, q, short); !errors.Is(err, ErrMalformed) {
		t.Errorf("missing choice: %v", err)
	}
	var empty Ballot
	if err := json.Unmarshal([]byte(`{"choices":[{"a":"00"}]}`), &empty); err == nil {
		t.Error("short point decoded")
	}
}

func clone(b Ballot) Ballot {
	var out Ballot
	j, _ := json.Marshal(b)
	if err := json.Unmarshal(j, &out); err != nil {
		panic(err)
	}
	return out
}

func TestFewerThanKCannotDecrypt(t *testing.T) {
	rec, ts := testRecord(t)
	it := rec.Items[0]
	q := it.Question()
	ctx := ItemContext(rec.ElectionID, it.ID, rec.PublicKey, q)
	// Any two of the three open the tally.
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {1, 2}} {
		decs := []Decryption{
			PartialDecrypt(ctx, pair[0]+1, ts[pair[0]].Share, it.Tally),
			PartialDecrypt(ctx, pair[1]+1, ts[pair[1]].Share, it.Tally),
		}
		res, err := Combine(2, it.Tally, decs, len(it.Ballots))
		if err != nil || !slices.Equal(res, it.Result) {
			t.Errorf("trustees %v: %v %v", pair, res, err)
		}
	}
	one := []Decryption{PartialDecrypt(ctx, 1, ts[0].Share, it.Tally)}
	if _, err := Combine(2, it.Tally, one, len(it.Ballots)); !errors.Is(err, ErrTooFewTrustees) {
		t.Errorf("one trustee of two: %v", err)
	}
	// Nor does one share used as if it were the whole key: the Lagrange
	// combination of a single factor is not the decryption.
	if res, err := Combine(1, it.Tally, one, len(it.Ballots)); err == nil {
		t.Errorf("one share decrypted the tally: %v", res)
	}
	// Each partial decryption is checked against its trustee's key.
	vk2 := VerificationKey(rec.Trustees, 2)
	if err := VerifyDecryption(ctx, vk2, it.Tally, one[0]); err == nil {
		t.Error("trustee 1's decryption verified under trustee 2's key")
	}
}

func TestShareTransport(t *testing.T) {
	ectx := ElectionContext("e", 2, 3)
	p := NewPolynomial(2)
	z := RandomScalar()
	enc := EncryptShare(ectx, 1, 2, mulBase(z), p.At(2))
	got, err := DecryptShare(ectx, z, enc)
	if err != nil || !VerifyShare(p.Commitments(), 2, got) {
		t.Fatalf("share did not arrive: %v", err)
	}
	if s, err := DecryptShare(ectx, RandomScalar(), enc); err == nil && VerifyShare(p.Commitments(), 2, s) {
		t.Error("another key opened the share")
	}
	if VerifyShare(p.Commitments(), 3, got) {
		t.Error("share of 2 verified as share of 3")
	}
}

// TestTallyInChunks: the tally of many ballots, summed in chunks on all
// cores, is the plain sum.
func TestTallyInChunks(t *testing.T) {
	_, y, err := SimulateCeremony("tally", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	ballots := make([]Ballot, 2500)
	want := []Ciphertext{ZeroCiphertext(), ZeroCiphertext()}
	for i := range ballots {
		v := i % 2
		ballots[i].Choices = []Ciphertext{EncryptWith(y, v, scalarOf(uint64(i+1))), EncryptWith(y, 1-v, scalarOf(uint64(i+7)))}
		for j := range want {
			want[j] = want[j].Add(ballots[i].Choices[j])
		}
	}
	got := Tally(2, ballots)
	for j := range want {
		if !got[j].A.equal(want[j].A) || !got[j].B.equal(want[j].B) {
			t.Errorf("option %d: chunked tally differs from the plain sum", j+1)
		}
	}
	if got := Tally(2, ballots[:2499]); got[0].A.equal(want[0].A) {
		t.Error("a tally without the last ballot equals the full one")
	}
}

// TestDecodedPointKeepsEncoding: a decoded point's cached encoding is its
// canonical encoding, and changing what Bytes returned changes nothing.
func TestDecodedPointKeepsEncoding(t *testing.T) {
	p := mulBase(scalarOf(12345))
	q, err := ParsePoint(p.String())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.Bytes(), q.e.Encode(nil)) || !bytes.Equal(q.bytesRO(), p.Bytes()) {
		t.Fatal("cached encoding differs from the encoding")
	}
	b := q.Bytes()
	b[0] ^= 1
	if !bytes.Equal(q.Bytes(), p.Bytes()) {
		t.Fatal("changing Bytes' result changed the point's encoding")
	}
	var r Point
	if err := json.Unmarshal([]byte(`"`+p.String()+`"`), &r); err != nil || !bytes.Equal(r.bytesRO(), p.Bytes()) {
		t.Fatalf("JSON-decoded point: %v", err)
	}
}
