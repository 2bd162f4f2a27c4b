package governance

import (
	"allmende/election"
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// EncryptedReceipt is what a voter gets back for an encrypted ballot: the
// tracker to find it in the published record.
type EncryptedReceipt struct {
	ItemID   string `json:"item_id"`
	Tracker  string `json:"tracker"`
	Replaced bool   `json:"replaced"` // an earlier ballot of this member was replaced
}

type encryptedBallotRow struct {
	ItemID   string
	MemberID string
	Ballot   string
	Tracker  string
	CtKey    string
}

func (encryptedBallotRow) TableName() string { return "encrypted_ballots" }

// CastEncrypted accepts a ballot encrypted in the voter's browser for a
// secret item of an assembly with an election key. Its proofs are checked
// before anything is stored (outside the transaction: they take a
// millisecond or two, and on SQLite the transaction holds the only
// connection). What is stored is voter → ciphertext; the server never sees
// the choice. Where the board allows voting again, a later ballot of the
// same member replaces the earlier one; otherwise it is refused as before.
func (g *Governance) CastEncrypted(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, itemID, onBehalfOf string, b election.Ballot) (*EncryptedReceipt, error) {
	member := strings.TrimSpace(onBehalfOf)
	if member == "" {
		member = v.UserID
	}
	if v.UserID == "" {
		return nil, models.Forbidden("Sign in to vote.")
	}
	db := g.db.Gorm.WithContext(ctx)
	it, err := loadItem(db, assemblyID, itemID)
	if err != nil {
		return nil, err
	}
	e, _, err := loadElection(db, assemblyID)
	if err != nil {
		return nil, err
	}
	if e == nil || e.PublicKey == "" {
		return nil, models.Conflict("This assembly has no election key: its secret items are not voted with encrypted ballots.")
	}
	y, err := election.ParsePoint(e.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("election key of %s: %w", assemblyID, err)
	}
	if !it.Secret {
		return nil, models.Conflict("This item is voted by name, not with an encrypted ballot.")
	}
	q, _ := questionOf(*it)
	bctx := election.ItemContext(assemblyID, itemID, y, q)
	comm, err := election.CheckBallot(bctx, y, q, b)
	if err != nil {
		return nil, models.Invalid(map[string]string{"ballot": "The encrypted ballot was refused: " + err.Error()})
	}
	// Stored with its proofs' commitments, which the record lists so that
	// its verifier can check all ballots at once (election/batch.go).
	blob, err := json.Marshal(election.StoredBallot{Ballot: b, Commitments: comm})
	if err != nil {
		return nil, fmt.Errorf("encode ballot: %w", err)
	}
	row := encryptedBallotRow{ItemID: itemID, MemberID: member, Ballot: string(blob), Tracker: election.Tracker(bctx, b), CtKey: election.CiphertextKey(b)}
	st, err := g.castStatements(ctx)
	if err != nil {
		return nil, err
	}
	receipt := &EncryptedReceipt{ItemID: itemID, Tracker: row.Tracker}
	err = g.db.Tx(ctx, func(tx *gorm.DB) error {
		sqlTx, ok := kit.SQLTxOf(tx)
		if !ok {
			return fmt.Errorf("cast: not inside a transaction")
		}
		c, err := loadCastContext(ctx, sqlTx.StmtContext(ctx, st.context), v, member, itemID, assemblyID)
		if err != nil {
			return err
		}
		if err := g.checkCast(c, member, v); err != nil {
			return err
		}
		if member == v.UserID && c.HolderID != nil {
			// A personal vote overrides the proxy the member gave.
			if err := overrideProxy(tx, actor, assemblyID, member); err != nil {
				return err
			}
		}
		// ON CONFLICT DO NOTHING rather than catching the violation:
		// PostgreSQL aborts the transaction at a failed statement.
		res := tx.Exec(`INSERT INTO vote_records (item_id, member_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, itemID, member)
		if res.Error != nil {
			return fmt.Errorf("record vote: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			if !c.Revote {
				return models.Conflict("This vote has already been cast on this item.")
			}
			receipt.Replaced = true
			if err := tx.Exec(`DELETE FROM encrypted_ballots WHERE item_id = ? AND member_id = ?`, itemID, member).Error; err != nil {
				return fmt.Errorf("replace ballot: %w", err)
			}
		}
		if err := tx.Create(&row).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("This ballot is a copy of another ballot; your browser must encrypt a fresh one.")
			}
			return fmt.Errorf("store ballot: %w", err)
		}
		detail := map[string]any{"member": member, "encrypted": true}
		if member != v.UserID {
			detail["by_proxy"] = v.UserID
		}
		if receipt.Replaced {
			detail["replaced"] = true
		}
		return kit.RecordAudit(tx, actor, "ballot.cast", "agenda_item", itemID, detail)
	})
	if err != nil {
		return nil, err
	}
	return receipt, nil
}

// loadItem is one agenda item of an assembly with its candidates.
func loadItem(tx *gorm.DB, assemblyID, itemID string) (*AgendaItem, error) {
	items, err := loadItems(tx, assemblyID)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if items[i].ID == itemID {
			return &items[i], nil
		}
	}
	return nil, models.NotFoundError("agenda item")
}

// loadEncryptedBallots is an item's ballots, ordered by tracker: an order
// that says nothing about who cast them, or when.
// withCommitments also decodes the commitments of their proofs (for the
// record; the tally does without, and decoding them would triple its cost).
func loadEncryptedBallots(tx *gorm.DB, itemID string, withCommitments bool) ([]election.RecordedBallot, error) {
	var rows []encryptedBallotRow
	if err := tx.Select("ballot", "tracker").Where("item_id = ?", itemID).Order("tracker").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load encrypted ballots: %w", err)
	}
	raw := make([][]byte, len(rows))
	for i, r := range rows {
		raw[i] = []byte(r.Ballot)
	}
	var out []election.RecordedBallot
	if withCommitments {
		var err error
		if out, err = election.DecodeRecordedBallots(raw); err != nil {
			return nil, fmt.Errorf("item %s: %w", itemID, err)
		}
	} else {
		bs, err := election.DecodeBallots(raw)
		if err != nil {
			return nil, fmt.Errorf("item %s: %w", itemID, err)
		}
		out = make([]election.RecordedBallot, len(rows))
		for i := range bs {
			out[i].Ballot = bs[i]
		}
	}
	for i, r := range rows {
		out[i].Tracker = r.Tracker
	}
	return out, nil
}

func recordedBallots(rs []election.RecordedBallot) []election.Ballot {
	out := make([]election.Ballot, len(rs))
	for i, r := range rs {
		out[i] = r.Ballot
	}
	return out
}
