package election

import (
	"errors"
	"fmt"
	"slices"
)

// Factor is one trustee's partial decryption D = x_j·A of one option's
// tally, with a proof that it used the share behind its verification key.
type Factor struct {
	D *Point `json:"d"`
	Proof
}

// Decryption is one trustee's partial decryption of an item's tally.
type Decryption struct {
	Trustee int      `json:"trustee"`
	Factors []Factor `json:"factors"`
}

func decryptBind(ctx []byte, trustee, option int) [][]byte {
	return [][]byte{ctx, u32(trustee), u32(option)}
}

// Tally is the homomorphic sum of the ballots, option by option. Large
// tallies are summed in chunks on all cores; group addition is exact and
// commutative, so the sum does not depend on the split.
func Tally(options int, ballots []Ballot) []Ciphertext {
	const chunk = 1024
	if len(ballots) <= chunk {
		return tallyOf(options, ballots)
	}
	parts := make([][]Ciphertext, (len(ballots)+chunk-1)/chunk)
	forAll(len(parts), func(i int) {
		parts[i] = tallyOf(options, ballots[i*chunk:min((i+1)*chunk, len(ballots))])
	})
	t := parts[0]
	for _, p := range parts[1:] {
		for i := range t {
			t[i] = t[i].Add(p[i])
		}
	}
	return t
}

func tallyOf(options int, ballots []Ballot) []Ciphertext {
	t := make([]Ciphertext, options)
	for i := range t {
		t[i] = ZeroCiphertext()
	}
	for _, b := range ballots {
		for i := range t {
			t[i] = t[i].Add(b.Choices[i])
		}
	}
	return t
}

// PartialDecrypt is trustee j's share of the decryption of a tally (the
// browser does it with the trustee's key; Go in tests and benchmarks).
func PartialDecrypt(ctx []byte, j int, x *Scalar, tally []Ciphertext) Decryption {
	xPub := mulBase(x)
	d := Decryption{Trustee: j, Factors: make([]Factor, len(tally))}
	for i, ct := range tally {
		f := mul(x, ct.A)
		d.Factors[i] = Factor{D: f, Proof: proveDLEQ("decrypt", decryptBind(ctx, j, i), x, xPub, ct.A, f)}
	}
	return d
}

// VerifyDecryption checks a partial decryption against the trustee's
// verification key.
func VerifyDecryption(ctx []byte, xPub *Point, tally []Ciphertext, d Decryption) error {
	if len(d.Factors) != len(tally) {
		return fmt.Errorf("trustee %d: %d factors for %d options", d.Trustee, len(d.Factors), len(tally))
	}
	for i, f := range d.Factors {
		if f.D == nil {
			return fmt.Errorf("trustee %d: factor %d missing", d.Trustee, i+1)
		}
		if err := verifyDLEQ("decrypt", decryptBind(ctx, d.Trustee, i), xPub, tally[i].A, f.D, f.Proof); err != nil {
			return fmt.Errorf("trustee %d: partial decryption of option %d: %w", d.Trustee, i+1, err)
		}
	}
	return nil
}

// ErrTooFewTrustees: fewer than k partial decryptions cannot open a tally.
var ErrTooFewTrustees = errors.New("fewer partial decryptions than the threshold")

// Combine opens a tally from the partial decryptions of k trustees (already
// verified): M = B − Σ λ_j·D_j = m·G, and m is found by search up to max
// (the number of ballots). With fewer than k factors, or factors that do
// not fit, no m up to max matches and Combine fails.
func Combine(k int, tally []Ciphertext, decs []Decryption, max int) ([]int, error) {
	if len(decs) < k {
		return nil, ErrTooFewTrustees
	}
	decs = decs[:k]
	set := make([]int, k)
	for i, d := range decs {
		set[i] = d.Trustee
	}
	if slices.Contains(set, 0) || len(slices.Compact(slices.Sorted(slices.Values(set)))) != k {
		return nil, errors.New("partial decryptions of distinct trustees needed")
	}
	lambda := make([]*Scalar, k)
	for i, j := range set {
		lambda[i] = lagrange(set, j)
	}
	out := make([]int, len(tally))
	for opt, ct := range tally {
		m := ct.B
		for i, d := range decs {
			if len(d.Factors) != len(tally) {
				return nil, fmt.Errorf("trustee %d: wrong number of factors", d.Trustee)
			}
			m = sub(m, mul(lambda[i], d.Factors[opt].D))
		}
		n, ok := smallLog(m, max)
		if !ok {
			return nil, fmt.Errorf("option %d: the decryption is not a count of 0 to %d ballots", opt+1, max)
		}
		out[opt] = n
	}
	return out, nil
}

// smallLog finds n ≤ max with n·G = m by walking up from 0: counts are at
// most the number of ballots (thousands), so a walk of additions is fast
// enough and needs no table.
func smallLog(m *Point, max int) (int, bool) {
	p, g := identity(), base()
	for n := 0; n <= max; n++ {
		if p.equal(m) {
			return n, true
		}
		p = add(p, g)
	}
	return 0, false
}
