package election

import (
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"

	"github.com/gtank/ristretto255"
)

// Batch verification of the ballots of a record of format /2.
//
// A branch (c, s) of a range proof over the ciphertext (A, B) for the value
// v holds when its commitments are
//
//	a = s·G − c·A    and    b = s·Y − c·(B − v·G),
//
// and the branch challenges of the proof sum to the hash of the statement
// and the commitments. Format /1 sends only (c, s): the verifier must
// recompute every a and b (two two-term scalar multiplications per branch)
// to hash them. Format /2 also carries a and b, so the hash is checked on
// the given bytes, and the equations of many ballots are checked together:
// each equation is multiplied by its own random 128-bit weight z and all are
// added up into one multi-scalar multiplication that must give the
// identity,
//
//	Σ z₁·(s·G − c·A − a) + z₂·(s·Y − c·B + c·v·G − b) = 0.
//
// G and Y appear once for the whole chunk, each ciphertext once (the
// coefficients of its branches and of the overall proof merged), each
// commitment once with a short weight. In a group of prime order a single
// false equation makes the sum non-zero except with probability 2⁻¹²⁸ over
// the weights, which the verifier draws from crypto/rand after reading the
// record. A chunk that fails is checked ballot by ballot (CheckBallot) to
// name the bad ballot.

// batchChunk is how many ballots share one multi-scalar multiplication: big
// enough that G, Y and the 256 doublings are shared, small enough to spread
// over the cores and to keep the tables (8 points per term) in cache.
const batchChunk = 64

// batch accumulates equations: coefficients of G and Y, and terms.
type batch struct {
	g, y    *Scalar
	scalars []*ristretto255.Scalar
	points  []*ristretto255.Element
	rng     *mrand.ChaCha8
}

func newBatch() *batch {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		panic(fmt.Sprintf("election: random: %v", err)) // crypto/rand does not fail on Linux
	}
	return &batch{g: newScalar(), y: newScalar(), rng: mrand.NewChaCha8(seed)}
}

// weight is a random scalar below 2^128.
func (bt *batch) weight() *Scalar {
	var b [32]byte
	_, _ = bt.rng.Read(b[:16]) // ChaCha8.Read never fails
	s := newScalar()
	if err := s.s.Decode(b[:]); err != nil {
		panic(err) // < 2^128 < ℓ is canonical
	}
	return s
}

func (bt *batch) term(s *Scalar, p *Point) {
	bt.scalars = append(bt.scalars, &s.s)
	bt.points = append(bt.points, &p.e)
}

// rangeProof adds the equations of one range proof over a ciphertext whose
// A and B coefficients the caller collects in ca, cb (the ciphertext is a
// sum for the overall proof, so the caller spreads them over its parts).
func (bt *batch) rangeProof(p RangeProof, comm []Commitment, lo int, ca, cb *Scalar) {
	for j, br := range p {
		z1, z2 := bt.weight(), bt.weight()
		bt.g = sAdd(bt.g, sAdd(sMul(z1, br.S), sMul(sMul(z2, br.C), scalarOf(uint64(lo+j)))))
		bt.y = sAdd(bt.y, sMul(z2, br.S))
		ca.s.Subtract(&ca.s, &sMul(z1, br.C).s)
		cb.s.Subtract(&cb.s, &sMul(z2, br.C).s)
		bt.term(sSub(newScalar(), z1), comm[j].A)
		bt.term(sSub(newScalar(), z2), comm[j].B)
	}
}

// ballot adds the equations of every proof of a ballot whose shape and
// commitments' shape were checked.
func (bt *batch) ballot(q Question, b Ballot, comm Commitments) {
	oa, ob := newScalar(), newScalar()
	bt.rangeProof(b.Overall, comm[q.Options], q.Min, oa, ob)
	for i, ct := range b.Choices {
		ca, cb := newScalar(), newScalar()
		bt.rangeProof(b.Proofs[i], comm[i], 0, ca, cb)
		w := scalarOf(uint64(q.weight(i)))
		bt.term(sAdd(ca, sMul(w, oa)), ct.A)
		bt.term(sAdd(cb, sMul(w, ob)), ct.B)
	}
}

// holds tells whether the sum of all equations is the identity.
func (bt *batch) holds(y *Point) bool {
	bt.term(bt.g, base())
	bt.term(bt.y, y)
	var r ristretto255.Element
	r.VarTimeMultiScalarMult(bt.scalars, bt.points)
	var zero ristretto255.Element
	zero.Zero()
	return r.Equal(&zero) == 1
}

// hashRange checks a range proof's challenges against the hash of the
// statement and the given commitments (the equations are the batch's).
func hashRange(ctx []byte, label int, ct Ciphertext, p RangeProof, comm []Commitment) bool {
	parts := make([][]byte, 0, 4+2*len(comm))
	parts = append(parts, ctx, u32(label), ct.A.bytesRO(), ct.B.bytesRO())
	sum := newScalar()
	for j, br := range p {
		parts = append(parts, comm[j].A.bytesRO(), comm[j].B.bytesRO())
		sum = sAdd(sum, br.C)
	}
	return challenge("range", parts...).equal(sum)
}

var errCommitments = errors.New("the proof commitments do not fit the proofs")

// checkHashes checks a ballot's shape, its commitments' shape and every
// proof's hash on the given commitments: all of a ballot's checks but the
// equations.
func checkHashes(ctx []byte, q Question, b Ballot, comm Commitments) error {
	if err := checkShape(q, b); err != nil {
		return err
	}
	if len(comm) != q.Options+1 {
		return fmt.Errorf("%w: %v", ErrMalformed, errCommitments)
	}
	for i, p := range append(append([]RangeProof{}, b.Proofs...), b.Overall) {
		if len(comm[i]) != len(p) {
			return fmt.Errorf("%w: %v", ErrMalformed, errCommitments)
		}
		for _, c := range comm[i] {
			if c.A == nil || c.B == nil {
				return fmt.Errorf("%w: %v", ErrMalformed, errCommitments)
			}
		}
	}
	for i, ct := range b.Choices {
		if !hashRange(ctx, i, ct, b.Proofs[i], comm[i]) {
			return fmt.Errorf("%w: option %d is not shown to be 0 or 1: %v", ErrMalformed, i+1, errProof)
		}
	}
	if !hashRange(ctx, overallLabel, weightedSum(q, b), b.Overall, comm[q.Options]) {
		return fmt.Errorf("%w: the number of options chosen is not shown to be %d to %d: %v", ErrMalformed, q.Min, q.Max, errProof)
	}
	return nil
}

// checkEquations checks that the commitments of a ballot are the ones its
// proofs determine, one ballot alone: what names the bad ballot of a chunk
// whose batch failed.
func checkEquations(ctx []byte, y *Point, q Question, b Ballot, comm Commitments) error {
	want, err := CheckBallot(ctx, y, q, b)
	if err != nil {
		return err
	}
	for i := range want {
		for j := range want[i] {
			if !want[i][j].A.equal(comm[i][j].A) || !want[i][j].B.equal(comm[i][j].B) {
				return fmt.Errorf("%w: %v", ErrMalformed, errCommitments)
			}
		}
	}
	return nil
}

// batchVerify checks the proofs of ballots whose hashes checkHashes passed
// (errs[i] == nil), chunk by chunk on all cores, and sets errs[i] for each
// ballot that fails.
func batchVerify(ctx []byte, y *Point, q Question, bs []RecordedBallot, errs []error) {
	chunks := (len(bs) + batchChunk - 1) / batchChunk
	forAll(chunks, func(c int) {
		lo, hi := c*batchChunk, min((c+1)*batchChunk, len(bs))
		bt := newBatch()
		for i := lo; i < hi; i++ {
			if errs[i] == nil {
				bt.ballot(q, bs[i].Ballot, bs[i].Commitments)
			}
		}
		if bt.holds(y) {
			return
		}
		found := false
		for i := lo; i < hi; i++ {
			if errs[i] == nil {
				errs[i] = checkEquations(ctx, y, q, bs[i].Ballot, bs[i].Commitments)
				found = found || errs[i] != nil
			}
		}
		if !found { // cannot happen: the sum of true equations holds
			errs[lo] = fmt.Errorf("%w: ballots %d to %d fail together but not alone", ErrMalformed, lo+1, hi)
		}
	})
}
