package governance

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"allmende/models/membership"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// How votes are stored. That a member voted on an item (vote_records) is
// kept apart from what was voted. A named ballot stores the voter beside
// the choice. A secret item is voted only with ballots encrypted in the
// voter's browser under the election key of the assembly's trustees
// (election_cast.go, docs/ballots.md): no plaintext secret choice is ever
// stored, since a copy of the database would link it to its voter (by
// insertion order, page layout, WAL or PostgreSQL's xmin). OpenVoting
// refuses an assembly with secret items and no election key.

// castContext is everything Cast checks, read in one query.
type castContext struct {
	Status      string
	VotingStart time.Time
	VotingEnd   time.Time
	Kind        string
	Secret      bool
	Seats       int
	Elector     *string // the member in the electorate, if they are
	HolderID    *string
	Excluded    int  // the member or their proxy excluded from this item
	MemberOK    int  // the member still in good standing
	CasterOK    int  // the caster in good standing, or the member's relative holding their proxy
	Revote      bool // the assembly's election lets a later ballot replace the earlier one
	Closed      bool // the item's vote closed before the assembly's (runoff.go)
}

func castContextQuery(d models.Dialect) string {
	q := `SELECT a.status, a.voting_start, a.voting_end, i.kind, i.secret, i.seats, e.user_id, e.holder_id,
			(SELECT COUNT(*) FROM item_exclusions x WHERE x.item_id = i.id AND x.user_id IN (?, ?)),
			(SELECT COUNT(*) FROM memberships m WHERE m.user_id = ? AND m.status IN (?, ?)),
			(SELECT COUNT(*) FROM memberships m WHERE m.user_id = ? AND m.status IN (?, ?))
			+ (SELECT COUNT(*) FROM proxies p WHERE p.assembly_id = i.assembly_id AND p.proxy_id = ? AND p.grantor_id = ?
				AND p.relationship <> '' AND p.revoked_at IS NULL),
			(SELECT COUNT(*) FROM elections el WHERE el.assembly_id = i.assembly_id AND el.revote) > 0,
			i.closed_at IS NOT NULL, i.voting_start, i.voting_end
		FROM agenda_items i JOIN assemblies a ON a.id = i.assembly_id
		LEFT JOIN electorate e ON e.assembly_id = i.assembly_id AND e.user_id = ?
		WHERE i.id = ? AND i.assembly_id = ?`
	if d == models.Postgres {
		// Closing takes the assembly FOR UPDATE: it waits for ballots under
		// way, and ballots after it see it closed.
		q += ` FOR SHARE OF a`
	}
	return q
}

// rebindDollar turns ? placeholders into PostgreSQL's $1, $2, ... for
// statements prepared without gorm.
func rebindDollar(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// castStmts are Cast's statements, prepared once on the pool. Cast is the
// hot path of an assembly; gorm would prepare its statements inside each
// transaction again, and parsing took a quarter of a ballot's time.
type castStmts struct {
	context, voteRecord, namedBallot *sql.Stmt
}

func (g *Governance) castStatements(ctx context.Context) (*castStmts, error) {
	g.stmtMu.Lock()
	defer g.stmtMu.Unlock()
	if g.cast != nil {
		return g.cast, nil
	}
	var st castStmts
	for _, s := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.context, castContextQuery(g.db.Dialect)},
		{&st.voteRecord, `INSERT INTO vote_records (item_id, member_id) VALUES (?, ?)`},
		{&st.namedBallot, `INSERT INTO named_ballots (item_id, member_id, cast_by, choice) VALUES (?, ?, ?, ?)`},
	} {
		q := s.query
		if g.db.Dialect == models.Postgres {
			q = rebindDollar(q)
		}
		p, err := g.db.SQL.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("prepare ballot statements: %w", err)
		}
		*s.dst = p
	}
	g.cast = &st
	return g.cast, nil
}

func exec(ctx context.Context, tx *sql.Tx, s *sql.Stmt, args ...any) error {
	_, err := tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	return err
}

// Cast records one named ballot in one short transaction: one read of
// everything to check, then the vote record, the ballot and the audit
// entry (secret items take encrypted ballots: CastEncrypted). A second
// ballot of the same member on the same item, also a concurrent one, runs
// into the primary key of vote_records and is refused with nothing stored.
func (g *Governance) Cast(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, itemID string, in BallotInput) (*Receipt, error) {
	member := strings.TrimSpace(in.OnBehalfOf)
	if member == "" {
		member = v.UserID
	}
	if v.UserID == "" {
		return nil, models.Forbidden("Sign in to vote.")
	}
	// Prepared before the transaction: on SQLite the transaction holds the
	// only connection, which preparing on the pool would wait for.
	st, err := g.castStatements(ctx)
	if err != nil {
		return nil, err
	}
	var receipt *Receipt
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
		if c.Secret {
			return models.Conflict("This secret item takes an encrypted ballot: your browser encrypts your choice on the assembly page, and the server never sees it.")
		}
		if member == v.UserID && c.HolderID != nil {
			if err := overrideProxy(tx, actor, assemblyID, member); err != nil {
				return err
			}
		}
		choice, err := g.canonicalChoice(tx, itemID, c, in)
		if err != nil {
			return err
		}
		if err := exec(ctx, sqlTx, st.voteRecord, itemID, member); err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("This vote has already been cast on this item.")
			}
			return fmt.Errorf("record vote: %w", err)
		}
		detail := map[string]any{"member": member}
		if member != v.UserID {
			detail["by_proxy"] = v.UserID
		}
		receipt = &Receipt{ItemID: itemID}
		if err := exec(ctx, sqlTx, st.namedBallot, itemID, member, v.UserID, choice); err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("This vote has already been cast on this item.")
			}
			return fmt.Errorf("store ballot: %w", err)
		}
		detail["choice"] = choice // a named vote is published anyway
		return kit.RecordAudit(tx, actor, "ballot.cast", "agenda_item", itemID, detail)
	})
	if err != nil {
		return nil, err
	}
	return receipt, nil
}

// checkCast is what every ballot must pass, plain or encrypted: voting open
// on the item, the member in the electorate and in good standing, the
// caster the member or their proxy, neither excluded from the item.
func (g *Governance) checkCast(c castContext, member string, v models.Viewer) error {
	now := g.now()
	switch {
	case c.Status != AssemblyVoting || c.Closed || now.Before(c.VotingStart) || !now.Before(c.VotingEnd):
		return models.Conflict("Voting on this item is not open.")
	case c.Elector == nil && member == v.UserID:
		return models.Forbidden("You are not entitled to vote in this assembly: only those who were members when voting opened may vote.")
	case c.Elector == nil:
		return models.Forbidden("The member you vote for is not entitled to vote in this assembly.")
	case member != v.UserID && (c.HolderID == nil || *c.HolderID != v.UserID):
		return models.Forbidden("You do not hold a proxy of this member.")
	case c.MemberOK == 0 && member == v.UserID:
		return models.Forbidden("Your membership has ended; you can no longer vote.")
	case c.MemberOK == 0:
		return models.Forbidden("The membership of the member you vote for has ended.")
	case c.CasterOK == 0:
		return models.Forbidden("Your membership has ended; you can no longer vote.")
	case c.Excluded > 0:
		return models.Forbidden("This vote may not be cast on this item: the member (or their proxy) is excluded from voting on it, e.g. on their own discharge (§43(6) GenG).")
	}
	return nil
}

// loadCastContext reads what a cast is checked against (castContextQuery),
// for plaintext and encrypted ballots alike.
func loadCastContext(ctx context.Context, stmt *sql.Stmt, v models.Viewer, member, itemID, assemblyID string) (castContext, error) {
	var c castContext
	var itemStart, itemEnd *time.Time // a runoff's own window
	err := stmt.QueryRowContext(ctx, member, v.UserID, member, membership.StatusMember, membership.StatusLeaving,
		v.UserID, membership.StatusMember, membership.StatusLeaving, v.UserID, member, member, itemID, assemblyID).
		Scan(&c.Status, &c.VotingStart, &c.VotingEnd, &c.Kind, &c.Secret, &c.Seats,
			&c.Elector, &c.HolderID, &c.Excluded, &c.MemberOK, &c.CasterOK, &c.Revote, &c.Closed, &itemStart, &itemEnd)
	if errors.Is(err, sql.ErrNoRows) {
		return c, models.NotFoundError("agenda item")
	}
	if err != nil {
		return c, fmt.Errorf("load ballot context: %w", err)
	}
	if itemStart != nil && itemEnd != nil {
		c.VotingStart, c.VotingEnd = *itemStart, *itemEnd
	}
	return c, nil
}

// canonicalChoice checks a ballot and writes it in the one form that is
// stored, published and covered by the receipt: yes, no or abstain; for
// elections the chosen candidate ids, sorted and comma-separated, or
// abstain for an empty ballot.
func (g *Governance) canonicalChoice(tx *gorm.DB, itemID string, c castContext, in BallotInput) (string, error) {
	choice := strings.ToLower(strings.TrimSpace(in.Choice))
	if c.Kind != ItemElection {
		if choice != ChoiceYes && choice != ChoiceNo && choice != ChoiceAbstain {
			return "", models.Invalid(map[string]string{"choice": "Vote yes, no or abstain."})
		}
		return choice, nil
	}
	ids := kit.UniqueNonEmpty(in.CandidateIDs)
	if len(ids) == 0 {
		if choice != "" && choice != ChoiceAbstain {
			return "", models.Invalid(map[string]string{"candidates": "Choose candidates, or abstain."})
		}
		return ChoiceAbstain, nil
	}
	if len(ids) > c.Seats {
		return "", models.Invalidf("candidates", "Choose at most %d candidate(s).", c.Seats)
	}
	var known []string
	if err := tx.Model(&candidateRow{}).Where("item_id = ?", itemID).Pluck("id", &known).Error; err != nil {
		return "", fmt.Errorf("load candidates: %w", err)
	}
	for _, id := range ids {
		if !slices.Contains(known, id) {
			return "", models.Invalid(map[string]string{"candidates": "Choose among the candidates of this election."})
		}
	}
	slices.Sort(ids)
	return strings.Join(ids, ","), nil
}
