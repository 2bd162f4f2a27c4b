package election

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
)

// The election key is made by n trustees without a dealer (Pedersen's DKG
// with Feldman commitments): trustee i picks a random polynomial f_i of
// degree k−1, publishes C_il = a_il·G for its coefficients and a proof that
// it knows a_i0, and sends f_i(j) to each trustee j, encrypted to j's
// transport key. Trustee j checks every share against the commitments and
// keeps x_j = Σ_i f_i(j). The election key is Y = Σ_i C_i0; nobody ever
// holds its secret Σ_i a_i0, and any k trustees can decrypt together.
// Everybody computes trustee j's verification key X_j = x_j·G from the
// public commitments alone (PublicShare), which is what partial
// decryptions are checked against.

// ElectionContext binds the key ceremony's proofs to one election.
func ElectionContext(electionID string, threshold, trustees int) []byte {
	return transcript("election", []byte(electionID), u32(threshold), u32(trustees))
}

// Polynomial is a trustee's secret polynomial; it lives in the trustee's
// browser (static/ballot.js) and, here, in tests and benchmarks.
type Polynomial []*Scalar

// NewPolynomial makes a random polynomial of degree k−1.
func NewPolynomial(k int) Polynomial {
	p := make(Polynomial, k)
	for i := range p {
		p[i] = RandomScalar()
	}
	return p
}

// Commitments are the Feldman commitments a_l·G.
func (p Polynomial) Commitments() []*Point {
	c := make([]*Point, len(p))
	for i, a := range p {
		c[i] = mulBase(a)
	}
	return c
}

// At evaluates the polynomial at the trustee index j.
func (p Polynomial) At(j int) *Scalar {
	x, r := scalarOf(uint64(j)), newScalar()
	for i := len(p) - 1; i >= 0; i-- {
		r = sAdd(sMul(r, x), p[i])
	}
	return r
}

// ProveConstant proves knowledge of a_0, so that no trustee can choose its
// commitment after seeing the others' to cancel them (a rogue key).
func (p Polynomial) ProveConstant(ectx []byte, index int) Proof {
	return proveKnowledge("trustee", [][]byte{ectx, u32(index)}, p[0], mulBase(p[0]))
}

// PublicShare is Σ_l j^l·C_l: f(j)·G computed from the commitments.
func PublicShare(commitments []*Point, j int) *Point {
	x, pow, r := scalarOf(uint64(j)), scalarOf(1), identity()
	for _, c := range commitments {
		r = add(r, mul(pow, c))
		pow = sMul(pow, x)
	}
	return r
}

// VerifyShare tells whether share = f(j) for the polynomial committed to.
func VerifyShare(commitments []*Point, j int, share *Scalar) bool {
	return mulBase(share).equal(PublicShare(commitments, j))
}

// TrusteePublic is what a trustee publishes in the key ceremony.
type TrusteePublic struct {
	Index       int      `json:"index"` // 1 … n
	Name        string   `json:"name"`
	Commitments []*Point `json:"commitments"`
	Proof       Proof    `json:"proof"` // knowledge of the constant coefficient
}

// CheckTrustee verifies a trustee's commitments for a k-of-n election.
func CheckTrustee(ectx []byte, k int, t TrusteePublic) error {
	if len(t.Commitments) != k {
		return fmt.Errorf("trustee %d: %d commitments, want %d", t.Index, len(t.Commitments), k)
	}
	for _, c := range t.Commitments {
		if c == nil {
			return fmt.Errorf("trustee %d: commitment missing", t.Index)
		}
	}
	if err := verifyKnowledge("trustee", [][]byte{ectx, u32(t.Index)}, t.Commitments[0], t.Proof); err != nil {
		return fmt.Errorf("trustee %d: proof of the key share: %w", t.Index, err)
	}
	return nil
}

// PublicKey is the election key Σ_i C_i0.
func PublicKey(trustees []TrusteePublic) *Point {
	y := identity()
	for _, t := range trustees {
		y = add(y, t.Commitments[0])
	}
	return y
}

// VerificationKey is trustee j's X_j = Σ_i f_i(j)·G.
func VerificationKey(trustees []TrusteePublic, j int) *Point {
	x := identity()
	for _, t := range trustees {
		x = add(x, PublicShare(t.Commitments, j))
	}
	return x
}

// EncryptedShare is f_i(j) on its way from trustee i to trustee j through
// the server, which cannot read it: hashed ElGamal (ECIES) to j's transport
// key Z_j. The pad is used once; a share that was tampered with fails
// VerifyShare, so no MAC is needed.
type EncryptedShare struct {
	From int    `json:"from"`
	To   int    `json:"to"`
	E    *Point `json:"e"` // ephemeral key e·G
	X    string `json:"x"` // hex of share XOR pad
}

func sharePad(ectx []byte, from, to int, e, k *Point) []byte {
	return transcript("share", ectx, u32(from), u32(to), e.Bytes(), k.Bytes())[:32]
}

// EncryptShare encrypts a share for the trustee with transport key z.
func EncryptShare(ectx []byte, from, to int, z *Point, share *Scalar) EncryptedShare {
	e := RandomScalar()
	ep := mulBase(e)
	pad := sharePad(ectx, from, to, ep, mul(e, z))
	x := share.Bytes()
	subtle.XORBytes(x, x, pad)
	return EncryptedShare{From: from, To: to, E: ep, X: hex.EncodeToString(x)}
}

// DecryptShare opens a share with the transport secret z.
func DecryptShare(ectx []byte, z *Scalar, s EncryptedShare) (*Scalar, error) {
	x, err := hex.DecodeString(s.X)
	if err != nil || len(x) != 32 || s.E == nil {
		return nil, errors.New("malformed encrypted share")
	}
	pad := sharePad(ectx, s.From, s.To, s.E, mul(z, s.E))
	subtle.XORBytes(x, x, pad)
	out := newScalar()
	if err := out.s.Decode(x); err != nil {
		return nil, errors.New("share does not decrypt")
	}
	return out, nil
}

// lagrange is λ_j at 0 for the set of indices.
func lagrange(set []int, j int) *Scalar {
	num, den := scalarOf(1), scalarOf(1)
	for _, m := range set {
		if m == j {
			continue
		}
		num = sMul(num, scalarOf(uint64(m)))
		den = sMul(den, sSub(scalarOf(uint64(m)), scalarOf(uint64(j))))
	}
	return sMul(num, sInv(den))
}
