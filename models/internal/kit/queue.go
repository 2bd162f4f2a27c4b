package kit

import (
	"allmende/models"
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"
)

// enqueue inserts a job in gorm's current transaction, so the job exists
// exactly when the state change that asks for it commits.
func Enqueue(ctx context.Context, q models.Queue, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobRow, error) {
	sqlTx, ok := SQLTxOf(tx)
	if !ok {
		return nil, fmt.Errorf("enqueue %s: not inside a transaction", args.Kind())
	}
	res, err := q.InsertTx(ctx, sqlTx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return res.Job, nil
}

// enqueueMany inserts many jobs in tx with one statement per batch: an
// invitation to every member must not hold SQLite's single writer for
// seconds, one insert per member.
func EnqueueMany(ctx context.Context, q models.Queue, tx *gorm.DB, args []river.JobArgs) error {
	if len(args) == 0 {
		return nil
	}
	sqlTx, ok := SQLTxOf(tx)
	if !ok {
		return fmt.Errorf("enqueue %d %s jobs: not inside a transaction", len(args), args[0].Kind())
	}
	const batch = 1000
	for start := 0; start < len(args); start += batch {
		params := make([]river.InsertManyParams, 0, batch)
		for _, a := range args[start:min(start+batch, len(args))] {
			params = append(params, river.InsertManyParams{Args: a})
		}
		if _, err := q.InsertManyTx(ctx, sqlTx, params); err != nil {
			return fmt.Errorf("enqueue %d %s jobs: %w", len(params), args[0].Kind(), err)
		}
	}
	return nil
}

// sqlTxOf digs the *sql.Tx out of a gorm transaction; with prepared
// statements on, gorm wraps it.
func SQLTxOf(tx *gorm.DB) (*sql.Tx, bool) {
	switch p := tx.Statement.ConnPool.(type) {
	case *sql.Tx:
		return p, true
	case *gorm.PreparedStmtTX:
		t, ok := p.Tx.(*sql.Tx)
		return t, ok
	}
	return nil, false
}
