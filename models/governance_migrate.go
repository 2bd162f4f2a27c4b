package models

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

// secretBallots creates the table of secret ballots. It needs
// dialect-specific DDL: on SQLite a rowid table would store ballots in
// insertion order, and its rowids would number them in that order, which
// together with the time-ordered audit log would tell who voted what.
// WITHOUT ROWID keys the rows by the random id alone.
func secretBallots(d Dialect) *goose.Migration {
	create := func(ctx context.Context, tx *sql.Tx) error {
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
	return goose.NewGoMigration(8, &goose.GoFunc{RunTx: create}, &goose.GoFunc{RunTx: dropSecretBallots})
}

func dropSecretBallots(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DROP TABLE secret_ballots`)
	return err
}
