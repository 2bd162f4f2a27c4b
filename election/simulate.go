package election

import "fmt"

// SimTrustee is a trustee played by Go code (tests, benchmarks): the
// browser's part of the key ceremony and the decryption, in one place.
type SimTrustee struct {
	Public TrusteePublic
	Poly   Polynomial
	Share  *Scalar // x_j after the ceremony
}

// SimulateCeremony runs the key ceremony among n simulated trustees for a
// k-of-n election, sending every share through EncryptShare/DecryptShare as
// the browsers do, and returns the trustees and the election key.
func SimulateCeremony(electionID string, k, n int) ([]*SimTrustee, *Point, error) {
	ectx := ElectionContext(electionID, k, n)
	ts := make([]*SimTrustee, n)
	pubs := make([]TrusteePublic, n)
	transport := make([]*Scalar, n)
	for i := range ts {
		p := NewPolynomial(k)
		ts[i] = &SimTrustee{Poly: p, Public: TrusteePublic{Index: i + 1, Name: fmt.Sprintf("Trustee %d", i+1), Commitments: p.Commitments(), Proof: p.ProveConstant(ectx, i+1)}}
		pubs[i] = ts[i].Public
		transport[i] = RandomScalar()
	}
	for j := 1; j <= n; j++ {
		x := newScalar()
		for i, t := range ts {
			if err := CheckTrustee(ectx, k, pubs[i]); err != nil {
				return nil, nil, err
			}
			enc := EncryptShare(ectx, i+1, j, mulBase(transport[j-1]), t.Poly.At(j))
			s, err := DecryptShare(ectx, transport[j-1], enc)
			if err != nil {
				return nil, nil, err
			}
			if !VerifyShare(pubs[i].Commitments, j, s) {
				return nil, nil, fmt.Errorf("share from %d to %d does not verify", i+1, j)
			}
			x = sAdd(x, s)
		}
		ts[j-1].Share = x
	}
	return ts, PublicKey(pubs), nil
}

// SimulateItem encrypts the given votes (one 0/1 slice per ballot), tallies
// them and has the first k trustees decrypt: a whole item of a record of
// format /2 (with the proofs' commitments).
func SimulateItem(electionID string, y *Point, ts []*SimTrustee, k int, id, title string, options []string, min, max int, votes [][]int) (ItemRecord, error) {
	q := Question{Options: len(options), Min: min, Max: max}
	ctx := ItemContext(electionID, id, y, q)
	it := ItemRecord{ID: id, Title: title, Options: options, Min: min, Max: max}
	ballots := make([]Ballot, len(votes))
	for i, v := range votes {
		b, _, err := EncryptBallot(ctx, y, q, v)
		if err != nil {
			return it, err
		}
		ballots[i] = b
		comm, err := CheckBallot(ctx, y, q, b) // as the server does when it accepts the ballot
		if err != nil {
			return it, err
		}
		it.Ballots = append(it.Ballots, RecordedBallot{Tracker: Tracker(ctx, b), Ballot: b, Commitments: comm})
	}
	it.Tally = Tally(q.Options, ballots)
	for _, t := range ts[:k] {
		it.Decryptions = append(it.Decryptions, PartialDecrypt(ctx, t.Public.Index, t.Share, it.Tally))
	}
	res, err := Combine(k, it.Tally, it.Decryptions, len(ballots))
	if err != nil {
		return it, err
	}
	it.Result = res
	return it, nil
}
