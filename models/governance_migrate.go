package models

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3"
)

// secretBallots creates the table of secret ballots. It needs
// dialect-specific DDL: on SQLite a rowid table would store ballots in
// insertion order, and its rowids would number them in that order, which
// together with the time-ordered audit log would tell who voted what.
// WITHOUT ROWID keys the rows by the random id alone.
func secretBallots(d Dialect) *goose.Migration {
	return goose.NewGoMigration(8, &goose.GoFunc{RunTx: createSecretBallots(d)}, &goose.GoFunc{RunTx: dropSecretBallots})
}

func createSecretBallots(d Dialect) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmt := `CREATE TABLE secret_ballots (
		item_id TEXT NOT NULL,
		id      TEXT NOT NULL,
		choice  TEXT NOT NULL,
		code    TEXT NOT NULL,
		PRIMARY KEY (item_id, id)
	)`
		if d == SQLite {
			stmt += ` WITHOUT ROWID`
		}
		_, err := tx.ExecContext(ctx, stmt)
		return err
	}
}

func dropSecretBallots(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DROP TABLE secret_ballots`)
	return err
}

// noPlaintextSecretBallots (migration 90) drops the table of plaintext
// secret ballots: secret items are voted only with encrypted ballots now
// (docs/ballots.md). The ballots of closed assemblies are published in
// their result files (code and choice, hashed into the minutes), so their
// rows only kept what could link them to voters (storage order, WAL,
// xmin). An assembly still voting with plaintext secret ballots, or with
// secret items and no election key, cannot be carried over: its ballots
// would be lost or could not be cast. The migration stops with the
// assemblies named, to be closed with the previous version first.
func noPlaintextSecretBallots(d Dialect) *goose.Migration {
	up := func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT a.id, a.title FROM assemblies a
			WHERE a.status NOT IN ('planned', 'closed')
			AND EXISTS (SELECT 1 FROM agenda_items i WHERE i.assembly_id = a.id AND i.secret)
			AND NOT EXISTS (SELECT 1 FROM elections e WHERE e.assembly_id = a.id AND e.public_key <> '')
			ORDER BY a.id`)
		if err != nil {
			return fmt.Errorf("find assemblies voting with plaintext secret ballots: %w", err)
		}
		defer rows.Close()
		var open []string
		for rows.Next() {
			var id, title string
			if err := rows.Scan(&id, &title); err != nil {
				return err
			}
			open = append(open, fmt.Sprintf("%q (%s)", title, id))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(open) > 0 {
			return fmt.Errorf("assemblies %s are voting on secret items without an election key, whose ballots this version no longer stores in plaintext: close their vote with the previous version of Allmende, then upgrade", strings.Join(open, ", "))
		}
		return dropSecretBallots(ctx, tx)
	}
	return goose.NewGoMigration(90, &goose.GoFunc{RunTx: up}, &goose.GoFunc{RunTx: createSecretBallots(d)})
}
