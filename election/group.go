// Package election is the cryptography of verifiable secret ballots, apart
// from any database so that the offline verifier (`allmende verify-election`)
// and the server share one implementation: exponential ElGamal on
// ristretto255, disjunctive Chaum-Pedersen proofs that a ballot is well
// formed, a dealerless threshold key (Pedersen's DKG with Feldman
// commitments), partial decryptions with proofs, and the published election
// record with its verification. docs/ballots.md describes the protocol; the
// browser's static/ballot.js is its twin and must hash and encode exactly as
// this package does.
package election

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/gtank/ristretto255"
)

// Domain is the prefix of every hash of the protocol: a hash made for one
// purpose (a proof, a tracker, a share key) is never a valid hash for another.
const Domain = "allmende-ballots/v1"

// Point is a ristretto255 element; in JSON the hex of its 32-byte encoding.
// A point is never changed after it is made (every operation returns a
// fresh one), so a decoded point keeps the bytes it was decoded from: they
// are its canonical encoding, and the proofs, trackers and copy keys hash
// each ciphertext several times (encoding costs an inverse square root).
type Point struct {
	e   ristretto255.Element
	enc []byte // the canonical encoding when known (decoded points); read-only
}

// Scalar is an integer modulo the group order ℓ; in JSON the hex of its
// canonical 32-byte little-endian encoding.
type Scalar struct{ s ristretto255.Scalar }

func newPoint() *Point   { return &Point{} }
func newScalar() *Scalar { return &Scalar{} }

// Bytes is the canonical encoding (a fresh slice the caller may keep).
func (p *Point) Bytes() []byte {
	if p.enc != nil {
		return append(make([]byte, 0, len(p.enc)), p.enc...)
	}
	return p.e.Encode(nil)
}

// bytesRO is the canonical encoding, to be read and not changed: the cached
// bytes of a decoded point without a copy.
func (p *Point) bytesRO() []byte {
	if p.enc != nil {
		return p.enc
	}
	return p.e.Encode(nil)
}

func (p *Point) String() string { return hex.EncodeToString(p.Bytes()) }

func (p *Point) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

func (p *Point) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("group element: %w", err)
	}
	q, err := ParsePoint(s)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// ParsePoint decodes the hex of a canonical ristretto255 encoding.
func ParsePoint(s string) (*Point, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("group element %.16q: not 32 bytes of hex", s)
	}
	p := newPoint()
	if err := p.e.Decode(b); err != nil {
		return nil, fmt.Errorf("group element %.16q: not a valid ristretto255 encoding", s)
	}
	p.enc = b // Decode accepts only the canonical encoding
	return p, nil
}

func (s *Scalar) Bytes() []byte { return s.s.Encode(nil) }

func (s *Scalar) String() string { return hex.EncodeToString(s.Bytes()) }

func (s *Scalar) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s *Scalar) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("scalar: %w", err)
	}
	t, err := ParseScalar(str)
	if err != nil {
		return err
	}
	*s = *t
	return nil
}

// ParseScalar decodes the hex of a canonical scalar (< ℓ).
func ParseScalar(str string) (*Scalar, error) {
	b, err := hex.DecodeString(str)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("scalar %.16q: not 32 bytes of hex", str)
	}
	s := newScalar()
	if err := s.s.Decode(b); err != nil {
		return nil, fmt.Errorf("scalar %.16q: not a canonical scalar", str)
	}
	return s, nil
}

// Group operations, each returning a fresh value.

func base() *Point { p := newPoint(); p.e.Base(); return p }

func identity() *Point { p := newPoint(); p.e.Zero(); return p }

func mulBase(s *Scalar) *Point { p := newPoint(); p.e.ScalarBaseMult(&s.s); return p }

func mul(s *Scalar, q *Point) *Point { p := newPoint(); p.e.ScalarMult(&s.s, &q.e); return p }

func add(a, b *Point) *Point { p := newPoint(); p.e.Add(&a.e, &b.e); return p }

func sub(a, b *Point) *Point { p := newPoint(); p.e.Subtract(&a.e, &b.e); return p }

func (p *Point) equal(q *Point) bool { return p.e.Equal(&q.e) == 1 }

// lin is a·P + b·Q in variable time: verification handles public values only.
func lin(a *Scalar, p *Point, b *Scalar, q *Point) *Point {
	r := newPoint()
	r.e.VarTimeMultiScalarMult([]*ristretto255.Scalar{&a.s, &b.s}, []*ristretto255.Element{&p.e, &q.e})
	return r
}

// linBase is a·G + b·Q in variable time.
func linBase(a *Scalar, b *Scalar, q *Point) *Point {
	r := newPoint()
	r.e.VarTimeDoubleScalarBaseMult(&b.s, &q.e, &a.s)
	return r
}

func sAdd(a, b *Scalar) *Scalar { s := newScalar(); s.s.Add(&a.s, &b.s); return s }

func sSub(a, b *Scalar) *Scalar { s := newScalar(); s.s.Subtract(&a.s, &b.s); return s }

func sMul(a, b *Scalar) *Scalar { s := newScalar(); s.s.Multiply(&a.s, &b.s); return s }

func sInv(a *Scalar) *Scalar { s := newScalar(); s.s.Invert(&a.s); return s }

func (s *Scalar) equal(t *Scalar) bool { return s.s.Equal(&t.s) == 1 }

// scalarOf is the scalar n (n ≥ 0).
func scalarOf(n uint64) *Scalar {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[:], n)
	s := newScalar()
	if err := s.s.Decode(b[:]); err != nil {
		panic(err) // n < 2^64 < ℓ is always canonical
	}
	return s
}

// RandomScalar is a uniformly random scalar from the operating system.
func RandomScalar() *Scalar {
	var b [64]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("election: random: %v", err)) // crypto/rand does not fail on Linux
	}
	s := newScalar()
	s.s.FromUniformBytes(b[:])
	return s
}

// transcript hashes the parts of a statement for one purpose: SHA-512 over
// Domain, 0, tag, 0, then each part as its 4-byte big-endian length and its
// bytes. The length prefix makes the split between parts unambiguous.
func transcript(tag string, parts ...[]byte) []byte {
	h := sha512.New()
	h.Write([]byte(Domain))
	h.Write([]byte{0})
	h.Write([]byte(tag))
	h.Write([]byte{0})
	var l [4]byte
	for _, p := range parts {
		binary.BigEndian.PutUint32(l[:], uint32(len(p)))
		h.Write(l[:])
		h.Write(p)
	}
	return h.Sum(nil)
}

// challenge is the Fiat-Shamir challenge: the transcript reduced modulo ℓ
// (64 uniform bytes, as ristretto255's FromUniformBytes; in the browser
// mod(bytesToNumberLE(h), ℓ)).
func challenge(tag string, parts ...[]byte) *Scalar {
	s := newScalar()
	s.s.FromUniformBytes(transcript(tag, parts...))
	return s
}

func u32(n int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(n))
	return b[:]
}

// PublicOf is s·G: the public half of a secret scalar.
func PublicOf(s *Scalar) *Point { return mulBase(s) }

// SumScalars adds scalars (a trustee's key is the sum of its shares).
func SumScalars(ss ...*Scalar) *Scalar {
	r := newScalar()
	for _, s := range ss {
		r = sAdd(r, s)
	}
	return r
}

// smallMultiples are v·G for the values a proof's branches take (0 … 63),
// computed once: every branch of every proof subtracts one.
var smallMultiples = func() []*Point {
	out := make([]*Point, 64)
	out[0] = identity()
	for v := 1; v < len(out); v++ {
		out[v] = add(out[v-1], base())
	}
	return out
}()

func smallMultiple(v int) *Point {
	if v >= 0 && v < len(smallMultiples) {
		return smallMultiples[v]
	}
	return mulBase(scalarOf(uint64(v)))
}
