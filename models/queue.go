package models

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"
)

// Queue inserts background jobs inside a database transaction. A
// *river.Client[*sql.Tx] satisfies it; tests may pass a fake.
type Queue interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// enqueue inserts a job in gorm's current transaction, so the job exists
// exactly when the state change that asks for it commits.
func enqueue(ctx context.Context, q Queue, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobRow, error) {
	sqlTx, ok := sqlTxOf(tx)
	if !ok {
		return nil, fmt.Errorf("enqueue %s: not inside a transaction", args.Kind())
	}
	res, err := q.InsertTx(ctx, sqlTx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return res.Job, nil
}

// sqlTxOf digs the *sql.Tx out of a gorm transaction; with prepared
// statements on, gorm wraps it.
func sqlTxOf(tx *gorm.DB) (*sql.Tx, bool) {
	switch p := tx.Statement.ConnPool.(type) {
	case *sql.Tx:
		return p, true
	case *gorm.PreparedStmtTX:
		t, ok := p.Tx.(*sql.Tx)
		return t, ok
	}
	return nil, false
}
