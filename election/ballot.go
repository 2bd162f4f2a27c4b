package election

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// Question is the shape of one secret item's ballot: one ciphertext per
// option, each 0 or 1. The last option is always "abstain" and weighs Max
// in the overall sum, which must lie between Min and Max: so abstaining
// excludes every other option. A yes/no/abstain item has three options and
// Min = Max = 1 (exactly one); an election has one option per candidate
// and abstain, Min 1 and Max the number of seats (one to Max candidates,
// or abstain alone) — and the count of abstentions is the tally of the
// last option, without looking at any single ballot.
type Question struct {
	Options  int `json:"options"`
	Min, Max int
}

// weight is what option i counts in the overall sum.
func (q Question) weight(i int) int {
	if i == q.Options-1 {
		return q.Max
	}
	return 1
}

func (q Question) validate() error {
	if q.Options < 2 || q.Min < 0 || q.Min > q.Max || q.Max < 1 || q.Max > q.Options-1 {
		return fmt.Errorf("malformed question: %d options, %d to %d chosen", q.Options, q.Min, q.Max)
	}
	return nil
}

// ItemContext binds a ballot's proofs to one item of one election, its key
// and its question: a proof made for another item, key or shape fails.
func ItemContext(electionID, itemID string, y *Point, q Question) []byte {
	return transcript("item", []byte(electionID), []byte(itemID), y.Bytes(), u32(q.Options), u32(q.Min), u32(q.Max))
}

// Ballot is one voter's encrypted ballot on one item.
type Ballot struct {
	Choices []Ciphertext `json:"choices"`
	Proofs  []RangeProof `json:"proofs"`  // each choice is 0 or 1
	Overall RangeProof   `json:"overall"` // the sum is between Min and Max
}

// EncryptBallot encrypts votes (one 0/1 per option) and proves it well
// formed; it returns each choice's randomness too (a Benaloh challenge
// reveals it). The browser does this; Go does it in tests and benchmarks.
func EncryptBallot(ctx []byte, y *Point, q Question, votes []int) (Ballot, []*Scalar, error) {
	if err := q.validate(); err != nil {
		return Ballot{}, nil, err
	}
	if len(votes) != q.Options {
		return Ballot{}, nil, fmt.Errorf("%d votes for %d options", len(votes), q.Options)
	}
	b := Ballot{Choices: make([]Ciphertext, q.Options), Proofs: make([]RangeProof, q.Options)}
	rs := make([]*Scalar, q.Options)
	total, rsum, sum := 0, newScalar(), ZeroCiphertext()
	for i, v := range votes {
		if v != 0 && v != 1 {
			return Ballot{}, nil, fmt.Errorf("vote %d for option %d: only 0 or 1", v, i)
		}
		ct, r := Encrypt(y, v)
		b.Choices[i], rs[i] = ct, r
		b.Proofs[i] = proveRange(ctx, i, y, ct, v, r, 0, 1)
		w := q.weight(i)
		total, rsum, sum = total+w*v, sAdd(rsum, sMul(scalarOf(uint64(w)), r)), sum.Add(ct.scale(w))
	}
	if total < q.Min || total > q.Max {
		return Ballot{}, nil, fmt.Errorf("%d options chosen, allowed %d to %d", total, q.Min, q.Max)
	}
	b.Overall = proveRange(ctx, overallLabel, y, sum, total, rsum, q.Min, q.Max)
	return b, rs, nil
}

// ErrMalformed is wrapped by every reason VerifyBallot refuses a ballot.
var ErrMalformed = errors.New("malformed ballot")

// VerifyBallot checks a ballot's shape and every proof: this is what the
// server does before it accepts a ballot, and the verifier of a record of
// format /1 for each ballot.
func VerifyBallot(ctx []byte, y *Point, q Question, b Ballot) error {
	_, err := CheckBallot(ctx, y, q, b)
	return err
}

// Commitments are a ballot's proof commitments: one slice per option's
// proof, then one for the overall proof, each with one Commitment per
// branch.
type Commitments [][]Commitment

// CheckBallot is VerifyBallot returning the commitments of the ballot's
// proofs, which the server stores beside the ballot for the record.
func CheckBallot(ctx []byte, y *Point, q Question, b Ballot) (Commitments, error) {
	if err := checkShape(q, b); err != nil {
		return nil, err
	}
	comm := make(Commitments, q.Options+1)
	for i, ct := range b.Choices {
		c, err := verifyRange(ctx, i, y, ct, b.Proofs[i], 0, 1)
		if err != nil {
			return nil, fmt.Errorf("%w: option %d is not shown to be 0 or 1: %v", ErrMalformed, i+1, err)
		}
		comm[i] = c
	}
	c, err := verifyRange(ctx, overallLabel, y, weightedSum(q, b), b.Overall, q.Min, q.Max)
	if err != nil {
		return nil, fmt.Errorf("%w: the number of options chosen is not shown to be %d to %d: %v", ErrMalformed, q.Min, q.Max, err)
	}
	comm[q.Options] = c
	return comm, nil
}

// checkShape: one ciphertext and one two-branch proof per option, and an
// overall proof with one branch per allowed sum, nothing missing.
func checkShape(q Question, b Ballot) error {
	if err := q.validate(); err != nil {
		return err
	}
	if len(b.Choices) != q.Options || len(b.Proofs) != q.Options {
		return fmt.Errorf("%w: %d choices and %d proofs for %d options", ErrMalformed, len(b.Choices), len(b.Proofs), q.Options)
	}
	for i, ct := range b.Choices {
		if !ct.valid() || !b.Proofs[i].complete(2) {
			return fmt.Errorf("%w: option %d: ciphertext or proof missing or of the wrong shape", ErrMalformed, i+1)
		}
	}
	if !b.Overall.complete(q.Max - q.Min + 1) {
		return fmt.Errorf("%w: the overall proof is missing or of the wrong shape", ErrMalformed)
	}
	return nil
}

func (p RangeProof) complete(branches int) bool {
	if len(p) != branches {
		return false
	}
	for _, br := range p {
		if !br.valid() {
			return false
		}
	}
	return true
}

// weightedSum is Σ w_i·(A_i, B_i), what the overall proof is about.
func weightedSum(q Question, b Ballot) Ciphertext {
	sum := ZeroCiphertext()
	for i, ct := range b.Choices {
		sum = sum.Add(ct.scale(q.weight(i)))
	}
	return sum
}

// Tracker is the ballot's fingerprint, shown to the voter and published in
// the record: a hash over the item context, every ciphertext and every
// proof (32 bytes of SHA-512, hex).
func Tracker(ctx []byte, b Ballot) string {
	parts := [][]byte{ctx}
	for _, ct := range b.Choices {
		parts = append(parts, ct.bytes())
	}
	for _, p := range append(append([]RangeProof{}, b.Proofs...), b.Overall) {
		for _, br := range p {
			parts = append(parts, br.C.Bytes(), br.S.Bytes())
		}
	}
	return hex.EncodeToString(transcript("tracker", parts...)[:32])
}

// CiphertextKey identifies a ballot's ciphertexts: two ballots with the same
// key are copies (a valid ballot with another's ciphertexts can only be made
// by copying it whole, since the overall proof needs the randomness), and a
// copied ballot is refused so that nobody can vote "the same as" someone
// else and learn their vote from the result.
func CiphertextKey(b Ballot) string {
	var parts [][]byte
	for _, ct := range b.Choices {
		parts = append(parts, ct.bytes())
	}
	return hex.EncodeToString(transcript("ciphertexts", parts...)[:32])
}
