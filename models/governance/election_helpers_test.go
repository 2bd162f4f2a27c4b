package governance_test

import (
	"context"
	"testing"

	"allmende/election"
	"allmende/models"
	"allmende/models/governance"
)

// simTrustee plays a trustee's browser: its secrets stay in the test.
type simTrustee struct {
	actor models.Actor
	idx   int
	poly  election.Polynomial
	z     *election.Scalar // transport secret
	x     *election.Scalar // key share after the ceremony
}

// electionAssembly plans an assembly with the items, names the trustees
// (k of them decrypt) and runs their key ceremony; e.open opens the vote.
func (e *gEnv) electionAssembly(t *testing.T, k int, trustees []models.Actor, revote bool, items ...governance.ItemInput) (*governance.Assembly, []*governance.AgendaItem, []*simTrustee) {
	t.Helper()
	ctx := context.Background()
	a, its := e.assembly(t, false, items...)
	var emails []string
	for _, tr := range trustees {
		emails = append(emails, tr.Email)
	}
	if err := e.g.SetUpElection(ctx, e.Board1, e.board, a.ID, governance.ElectionInput{TrusteeEmails: emails, Threshold: k, Revote: revote}); err != nil {
		t.Fatal(err)
	}
	return a, its, e.ceremony(t, a, trustees, k)
}

func (e *gEnv) open(t *testing.T, a *governance.Assembly) {
	t.Helper()
	if err := e.g.OpenVoting(context.Background(), e.Board1, e.board, a.ID); err != nil {
		t.Fatal(err)
	}
}

func (e *gEnv) ceremony(t *testing.T, a *governance.Assembly, trustees []models.Actor, k int) []*simTrustee {
	t.Helper()
	ctx := context.Background()
	n := len(trustees)
	ectx := election.ElectionContext(a.ID, k, n)
	sims := make([]*simTrustee, n)
	for i, tr := range trustees {
		s := &simTrustee{actor: tr, idx: i + 1, poly: election.NewPolynomial(k), z: election.RandomScalar()}
		sims[i] = s
		err := e.g.RegisterTrustee(ctx, tr, viewer(tr), a.ID, governance.TrusteeRegistration{
			TransportKey: election.PublicOf(s.z).String(), Commitments: s.poly.Commitments(), Proof: s.poly.ProveConstant(ectx, s.idx)})
		if err != nil {
			t.Fatalf("register trustee %d: %v", s.idx, err)
		}
	}
	for _, s := range sims {
		view, err := e.g.Election(ctx, viewer(s.actor), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var shares []election.EncryptedShare
		for _, to := range view.Trustees {
			z, err := election.ParsePoint(to.TransportKey)
			if err != nil {
				t.Fatal(err)
			}
			shares = append(shares, election.EncryptShare(ectx, s.idx, to.Index, z, s.poly.At(to.Index)))
		}
		if err := e.g.DealShares(ctx, s.actor, viewer(s.actor), a.ID, shares); err != nil {
			t.Fatalf("deal %d: %v", s.idx, err)
		}
	}
	for _, s := range sims {
		view, err := e.g.Election(ctx, viewer(s.actor), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if view.Me != s.idx || len(view.SharesToMe) != n {
			t.Fatalf("trustee %d sees me=%d and %d shares", s.idx, view.Me, len(view.SharesToMe))
		}
		var parts []*election.Scalar
		for _, sh := range view.SharesToMe {
			v, err := election.DecryptShare(ectx, s.z, sh)
			if err != nil {
				t.Fatal(err)
			}
			var comms []*election.Point
			for _, c := range view.Trustees[sh.From-1].Commitments {
				p, _ := election.ParsePoint(c)
				comms = append(comms, p)
			}
			if !election.VerifyShare(comms, s.idx, v) {
				t.Fatalf("share %d→%d does not verify", sh.From, s.idx)
			}
			parts = append(parts, v)
		}
		s.x = election.SumScalars(parts...)
		if err := e.g.ConfirmTrustee(ctx, s.actor, viewer(s.actor), a.ID, election.PublicOf(s.x).String()); err != nil {
			t.Fatalf("confirm %d: %v", s.idx, err)
		}
	}
	return sims
}

// question is an item's ballot shape and context, as the browser reads them.
func (e *gEnv) question(t *testing.T, a *governance.Assembly, itemID string) (*election.Point, election.Question, []byte) {
	t.Helper()
	view, err := e.g.Election(context.Background(), e.board, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	y, err := election.ParsePoint(view.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range view.Items {
		if it.ID == itemID {
			q := election.Question{Options: len(it.Options), Min: it.Min, Max: it.Max}
			return y, q, election.ItemContext(a.ID, it.ID, y, q)
		}
	}
	t.Fatalf("item %s not in the election", itemID)
	return nil, election.Question{}, nil
}

// encrypt makes a ballot as the voter's browser does.
func (e *gEnv) encrypt(t *testing.T, a *governance.Assembly, itemID string, votes []int) (election.Ballot, []*election.Scalar) {
	t.Helper()
	y, q, bctx := e.question(t, a, itemID)
	b, rs, err := election.EncryptBallot(bctx, y, q, votes)
	if err != nil {
		t.Fatal(err)
	}
	return b, rs
}

// decrypt has the trustees decrypt every secret item's tally.
func (e *gEnv) decrypt(t *testing.T, a *governance.Assembly, sims []*simTrustee) {
	t.Helper()
	ctx := context.Background()
	view, err := e.g.Election(ctx, e.board, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := election.ParsePoint(view.PublicKey)
	for _, it := range view.Items {
		q := election.Question{Options: len(it.Options), Min: it.Min, Max: it.Max}
		bctx := election.ItemContext(a.ID, it.ID, y, q)
		for _, s := range sims {
			d := election.PartialDecrypt(bctx, s.idx, s.x, it.Tally)
			if err := e.g.SubmitDecryption(ctx, s.actor, viewer(s.actor), a.ID, it.ID, d); err != nil {
				t.Fatalf("trustee %d decrypts %s: %v", s.idx, it.Title, err)
			}
		}
	}
}
