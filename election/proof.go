package election

import "errors"

// Ciphertext is an exponential ElGamal encryption of a small integer m under
// the election key Y: A = r·G, B = r·Y + m·G. Ciphertexts add up to the
// encryption of the sum of their messages, which is what the tally uses.
type Ciphertext struct {
	A *Point `json:"a"`
	B *Point `json:"b"`
}

// Encrypt encrypts m with fresh randomness and returns the randomness, the
// witness of the proofs (and what a Benaloh challenge reveals).
func Encrypt(y *Point, m int) (Ciphertext, *Scalar) {
	r := RandomScalar()
	return EncryptWith(y, m, r), r
}

// EncryptWith encrypts m with the given randomness.
func EncryptWith(y *Point, m int, r *Scalar) Ciphertext {
	return Ciphertext{A: mulBase(r), B: add(mul(r, y), mulBase(scalarOf(uint64(m))))}
}

// Add is the homomorphic sum of two ciphertexts.
func (c Ciphertext) Add(d Ciphertext) Ciphertext {
	return Ciphertext{A: add(c.A, d.A), B: add(c.B, d.B)}
}

// scale is the encryption of w·m (w small, public).
func (c Ciphertext) scale(w int) Ciphertext {
	if w == 1 {
		return c
	}
	if w > 1 && w <= 16 { // a few additions beat two scalar multiplications
		out := c
		for range w - 1 {
			out = out.Add(c)
		}
		return out
	}
	k := scalarOf(uint64(w))
	return Ciphertext{A: mul(k, c.A), B: mul(k, c.B)}
}

// ZeroCiphertext is the (trivial) encryption of 0, the start of a sum.
func ZeroCiphertext() Ciphertext { return Ciphertext{A: identity(), B: identity()} }

func (c Ciphertext) valid() bool { return c.A != nil && c.B != nil }

func (c Ciphertext) bytes() []byte {
	return append(append(make([]byte, 0, 64), c.A.bytesRO()...), c.B.bytesRO()...)
}

// Proof is a Schnorr-style proof: challenge and response. The commitments
// are not sent; the verifier recomputes them from (c, s) and checks that
// they hash to c.
type Proof struct {
	C *Scalar `json:"c"`
	S *Scalar `json:"s"`
}

func (p Proof) valid() bool { return p.C != nil && p.S != nil }

// RangeProof shows that a ciphertext encrypts one of lo, lo+1, …, hi without
// telling which: a disjunctive Chaum-Pedersen proof (Cramer-Damgård-
// Schoenmakers), one branch per value, all but the true one simulated. The
// branch challenges must sum to the Fiat-Shamir challenge.
type RangeProof []Proof

// overallLabel marks the proof over the sum of a ballot's choices.
const overallLabel = -1

// proveRange proves that ct = EncryptWith(y, m, r) with lo ≤ m ≤ hi. ctx binds
// the proof to the election item, label to the choice within the ballot.
func proveRange(ctx []byte, label int, y *Point, ct Ciphertext, m int, r *Scalar, lo, hi int) RangeProof {
	n := hi - lo + 1
	proof := make(RangeProof, n)
	parts := [][]byte{ctx, u32(label), ct.A.Bytes(), ct.B.Bytes()}
	sum := newScalar()
	w := RandomScalar()
	for v := lo; v <= hi; v++ {
		var a, b *Point
		if v == m {
			a, b = mulBase(w), mul(w, y)
		} else {
			c, s := RandomScalar(), RandomScalar()
			proof[v-lo] = Proof{C: c, S: s}
			a, b = rangeCommit(y, ct, v, c, s)
			sum = sAdd(sum, c)
		}
		parts = append(parts, a.Bytes(), b.Bytes())
	}
	c := challenge("range", parts...)
	cm := sSub(c, sum)
	proof[m-lo] = Proof{C: cm, S: sAdd(w, sMul(cm, r))}
	return proof
}

// rangeCommit recomputes a branch's commitments from its challenge and
// response: s·G − c·A and s·Y − c·(B − v·G).
func rangeCommit(y *Point, ct Ciphertext, v int, c, s *Scalar) (*Point, *Point) {
	nc := sSub(newScalar(), c)
	a := linBase(s, nc, ct.A)
	b := lin(s, y, nc, sub(ct.B, smallMultiple(v)))
	return a, b
}

var errProof = errors.New("proof does not verify")

// Commitment is one branch's commitments (a, b) of a range proof. A record
// of format /2 carries them so that its verifier can check all proofs of
// many ballots in one multi-scalar multiplication (batch.go); the ballot as
// the voter sends it, and its tracker, do not include them.
type Commitment struct {
	A *Point `json:"a"`
	B *Point `json:"b"`
}

// verifyRange checks a RangeProof made by proveRange and returns the
// commitments it recomputed, branch by branch.
func verifyRange(ctx []byte, label int, y *Point, ct Ciphertext, p RangeProof, lo, hi int) ([]Commitment, error) {
	if !ct.valid() {
		return nil, errors.New("ciphertext missing")
	}
	if len(p) != hi-lo+1 {
		return nil, errors.New("proof has the wrong number of branches")
	}
	parts := [][]byte{ctx, u32(label), ct.A.bytesRO(), ct.B.bytesRO()}
	comm := make([]Commitment, len(p))
	sum := newScalar()
	for v := lo; v <= hi; v++ {
		br := p[v-lo]
		if !br.valid() {
			return nil, errors.New("proof branch missing")
		}
		a, b := rangeCommit(y, ct, v, br.C, br.S)
		a.enc, b.enc = a.e.Encode(nil), b.e.Encode(nil)
		comm[v-lo] = Commitment{A: a, B: b}
		parts = append(parts, a.enc, b.enc)
		sum = sAdd(sum, br.C)
	}
	if !challenge("range", parts...).equal(sum) {
		return nil, errProof
	}
	return comm, nil
}

// proveDLEQ proves log_G(X) = log_A(D) = x (Chaum-Pedersen): that a partial
// decryption D = x·A was made with the share whose public key is X.
func proveDLEQ(tag string, bind [][]byte, x *Scalar, xPub, a, d *Point) Proof {
	w := RandomScalar()
	c := challenge(tag, cat(bind, xPub.Bytes(), a.Bytes(), d.Bytes(), mulBase(w).Bytes(), mul(w, a).Bytes())...)
	return Proof{C: c, S: sAdd(w, sMul(c, x))}
}

func verifyDLEQ(tag string, bind [][]byte, xPub, a, d *Point, p Proof) error {
	if !p.valid() {
		return errors.New("proof missing")
	}
	nc := sSub(newScalar(), p.C)
	t1 := linBase(p.S, nc, xPub)
	t2 := lin(p.S, a, nc, d)
	if !challenge(tag, cat(bind, xPub.Bytes(), a.Bytes(), d.Bytes(), t1.Bytes(), t2.Bytes())...).equal(p.C) {
		return errProof
	}
	return nil
}

// proveKnowledge is a Schnorr proof of knowledge of a = log_G(A).
func proveKnowledge(tag string, bind [][]byte, a *Scalar, pub *Point) Proof {
	w := RandomScalar()
	c := challenge(tag, cat(bind, pub.Bytes(), mulBase(w).Bytes())...)
	return Proof{C: c, S: sAdd(w, sMul(c, a))}
}

func verifyKnowledge(tag string, bind [][]byte, pub *Point, p Proof) error {
	if !p.valid() {
		return errors.New("proof missing")
	}
	t := linBase(p.S, sSub(newScalar(), p.C), pub)
	if !challenge(tag, cat(bind, pub.Bytes(), t.Bytes())...).equal(p.C) {
		return errProof
	}
	return nil
}

// cat appends parts to a copy of bind, never into bind's array.
func cat(bind [][]byte, parts ...[]byte) [][]byte {
	return append(append(make([][]byte, 0, len(bind)+len(parts)), bind...), parts...)
}
