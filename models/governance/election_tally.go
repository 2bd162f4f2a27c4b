package governance

import (
	"allmende/election"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"gorm.io/gorm"
)

// EndVoting ends the vote of an assembly with an election key: no more
// ballots, and the trustees may now decrypt each secret item's tally. The
// board closes the assembly (CloseVoting) once k trustees have.
func (g *Governance) EndVoting(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board can end the vote."); err != nil {
			return err
		}
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		e, _, err := loadElection(tx, a.ID)
		if err != nil {
			return err
		}
		switch {
		case e == nil || e.PublicKey == "":
			return models.Conflict("This assembly has no election key; close the vote instead.")
		case a.Status != AssemblyVoting:
			return models.Conflict("Voting on this assembly is not open.")
		}
		if err := noEarlyEnd(tx, a, g.now()); err != nil {
			return err
		}
		if err := tx.Model(&assemblyRow{}).Where("id = ?", a.ID).Update("status", AssemblyCounting).Error; err != nil {
			return fmt.Errorf("end voting: %w", err)
		}
		return kit.RecordAudit(tx, actor, "assembly.end_voting", "assembly", a.ID, map[string]any{"early": g.now().Before(a.VotingEnd)})
	})
}

type decryptionRow struct {
	ItemID     string
	TrusteeIdx int
	Decryption string
}

func (decryptionRow) TableName() string { return "election_decryptions" }

// SubmitDecryption stores a trustee's partial decryption of an item's tally
// after checking its proofs against the trustee's verification key. The
// trustee's browser computed it with the key only it holds.
func (g *Governance) SubmitDecryption(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, itemID string, d election.Decryption) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		e, ts, err := loadElection(tx, a.ID)
		if err != nil {
			return err
		}
		me := 0
		for _, t := range ts {
			if t.UserID == v.UserID {
				me = t.Idx
			}
		}
		switch {
		case e == nil || me == 0:
			return models.Forbidden("You are not a trustee of this assembly.")
		case a.Status != AssemblyCounting:
			return models.Conflict("Tallies are decrypted after the vote has ended and before the assembly closes.")
		case d.Trustee != me:
			return models.Invalidf("decryption", "You are trustee %d.", me)
		}
		it, err := loadItem(tx, a.ID, itemID)
		if err != nil {
			return err
		}
		if !it.Secret {
			return models.NotFoundError("secret item")
		}
		y, pubs, err := electionKeys(e, ts)
		if err != nil {
			return err
		}
		q, _ := questionOf(*it)
		ballots, err := loadEncryptedBallots(tx, it.ID, false)
		if err != nil {
			return err
		}
		tally := election.Tally(q.Options, recordedBallots(ballots))
		bctx := election.ItemContext(a.ID, it.ID, y, q)
		if err := election.VerifyDecryption(bctx, election.VerificationKey(pubs, me), tally, d); err != nil {
			return models.Invalid(map[string]string{"decryption": "The partial decryption does not check out: " + err.Error()})
		}
		blob, _ := json.Marshal(d)
		if err := tx.Create(&decryptionRow{ItemID: it.ID, TrusteeIdx: me, Decryption: string(blob)}).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("You have decrypted this item already.")
			}
			return fmt.Errorf("store decryption: %w", err)
		}
		return kit.RecordAudit(tx, actor, "election.decrypt", "agenda_item", it.ID, map[string]any{"trustee": me})
	})
}

func electionKeys(e *electionRow, ts []trusteeRow) (*election.Point, []election.TrusteePublic, error) {
	y, err := election.ParsePoint(e.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("election key of %s: %w", e.AssemblyID, err)
	}
	pubs, err := publicTrustees(ts)
	if err != nil {
		return nil, nil, err
	}
	return y, pubs, nil
}

// encryptedItem is an item's part of the election record: ballots, tally,
// decryptions and result. forRecord: the ballots with their proofs'
// commitments (format /2), computed for ballots stored without them.
func encryptedItem(tx *gorm.DB, assemblyID string, e *electionRow, y *election.Point, it AgendaItem, forRecord bool) (*election.ItemRecord, error) {
	q, labels := questionOf(it)
	ballots, err := loadEncryptedBallots(tx, it.ID, forRecord)
	if err != nil {
		return nil, err
	}
	if forRecord {
		if err := election.AddCommitments(election.ItemContext(assemblyID, it.ID, y, q), y, q, ballots); err != nil {
			return nil, fmt.Errorf("item %s: stored ballot: %w", it.ID, err)
		}
	}
	if ballots == nil {
		ballots = []election.RecordedBallot{}
	}
	rec := &election.ItemRecord{ID: it.ID, Title: it.Title, Options: labels, Min: q.Min, Max: q.Max, Ballots: ballots,
		Tally: election.Tally(q.Options, recordedBallots(ballots)), Decryptions: []election.Decryption{}}
	var rows []decryptionRow
	if err := tx.Where("item_id = ?", it.ID).Order("trustee_idx").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load decryptions: %w", err)
	}
	for _, r := range rows {
		var d election.Decryption
		if err := json.Unmarshal([]byte(r.Decryption), &d); err != nil {
			return nil, fmt.Errorf("decode decryption: %w", err)
		}
		rec.Decryptions = append(rec.Decryptions, d)
	}
	if len(rows) < e.Threshold {
		return rec, models.Conflictf("%q: %d of the %d trustees needed have decrypted the tally.", it.Title, len(rows), e.Threshold)
	}
	if rec.Result, err = election.Combine(e.Threshold, rec.Tally, rec.Decryptions, len(ballots)); err != nil {
		return nil, fmt.Errorf("combine decryptions of %s: %w", it.ID, err)
	}
	return rec, nil
}

// encryptedResults decrypts the secret items of an assembly with an
// election for the tally at close: item id → its record. nil without an
// election key. A missing decryption is a Conflict.
func encryptedResults(tx *gorm.DB, a *assemblyRow, items []AgendaItem) (map[string]*election.ItemRecord, error) {
	e, _, err := loadElection(tx, a.ID)
	if err != nil || e == nil || e.PublicKey == "" {
		return nil, err
	}
	y, err := election.ParsePoint(e.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("election key of %s: %w", a.ID, err)
	}
	out := map[string]*election.ItemRecord{}
	for _, it := range items {
		if !it.Secret {
			continue
		}
		if out[it.ID], err = encryptedItem(tx, a.ID, e, y, it, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// applyEncrypted fills an item's result from its decrypted tally: the counts
// per option (yes, no, abstain; or per candidate and abstain) and the
// trackers as the published ballot list.
func applyEncrypted(r *ItemResult, it AgendaItem, rec *election.ItemRecord) {
	r.Ballots = make([]PublishedBallot, len(rec.Ballots))
	for i, b := range rec.Ballots {
		r.Ballots[i] = PublishedBallot{Code: b.Tracker}
	}
	r.Cast = len(rec.Ballots)
	last := len(rec.Result) - 1
	r.Abstain = rec.Result[last]
	if it.Kind != ItemElection {
		r.Yes, r.No = rec.Result[0], rec.Result[1]
		decideMotion(r)
		return
	}
	r.CandidateVotes = map[string]int{}
	for i, c := range it.Candidates {
		r.CandidateVotes[c.Name] = rec.Result[i]
	}
	elect(r, it)
}

// ElectionRecord is the published election record of a closed assembly
// with an election key (`allmende verify-election` checks it).
func (g *Governance) ElectionRecord(ctx context.Context, v models.Viewer, assemblyID string) (*election.Record, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	a, err := loadAssembly(db.Omit("result_file"), assemblyID, false)
	if err != nil {
		return nil, err
	}
	e, ts, err := loadElection(db, a.ID)
	if err != nil {
		return nil, err
	}
	if e == nil || e.PublicKey == "" {
		return nil, models.NotFoundError("election record")
	}
	if a.Status != AssemblyClosed {
		return nil, models.Conflict("The election record is published when the assembly closes.")
	}
	y, pubs, err := electionKeys(e, ts)
	if err != nil {
		return nil, err
	}
	items, err := loadItems(db, a.ID)
	if err != nil {
		return nil, err
	}
	rec := &election.Record{Format: election.RecordFormat, ElectionID: a.ID, Title: a.Title, Threshold: e.Threshold,
		Trustees: pubs, PublicKey: y, Items: []election.ItemRecord{}}
	for _, it := range items {
		if !it.Secret {
			continue
		}
		ir, err := encryptedItem(db, a.ID, e, y, it, true)
		if err != nil {
			return nil, err
		}
		rec.Items = append(rec.Items, *ir)
	}
	return rec, nil
}

// closable: an assembly closes from voting; one with an election key from
// counting, after EndVoting (its tally needs the trustees between).
func closable(tx *gorm.DB, a *assemblyRow) error {
	e, _, err := loadElection(tx, a.ID)
	if err != nil {
		return err
	}
	encrypted := e != nil && e.PublicKey != ""
	switch {
	case encrypted && a.Status == AssemblyVoting:
		return models.Conflict("End the vote first: then the trustees decrypt the secret items' tallies, and the assembly can close.")
	case encrypted && a.Status == AssemblyCounting:
		return nil
	case a.Status != AssemblyVoting:
		return models.Conflict("Voting on this assembly is not open.")
	}
	return nil
}

// electionReady: an assembly with secret items opens only with an election
// key: the board names trustees (SetUpElection) and they complete their key
// ceremony. A secret ballot is never stored in plaintext (ballot.go).
func electionReady(tx *gorm.DB, assemblyID string, items []AgendaItem) error {
	e, ts, err := loadElection(tx, assemblyID)
	if err != nil {
		return err
	}
	if e == nil || len(ts) == 0 {
		if slices.ContainsFunc(items, func(it AgendaItem) bool { return it.Secret }) {
			return models.Conflict(ErrSecretNeedsKey)
		}
		return nil
	}
	if e.PublicKey != "" {
		return nil
	}
	waiting := 0
	for _, t := range ts {
		if t.VerificationKey == "" {
			waiting++
		}
	}
	return models.Conflictf("The trustees have not finished making the election key (%d of %d still to confirm); voting can open when they have.", waiting, len(ts))
}

// ErrSecretNeedsKey is why an assembly with secret items and no trustees
// cannot open (the board page says it in German too).
const ErrSecretNeedsKey = "This agenda has secret items: name the trustees on the election page and let them make the election key before voting opens, or make those items open votes."
