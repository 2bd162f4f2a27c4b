package models

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// StorageFullMessage is what pages and the API say when a change cannot be
// saved for lack of space.
const StorageFullMessage = "Storage is full: changes can't be saved right now. Reading works; try again later."

// IsStorageFull reports whether err says the database or the disk is full:
// SQLITE_FULL, PostgreSQL's disk_full (53100) or ENOSPC from a file write.
func IsStorageFull(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "53100" {
		return true
	}
	return errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "SQLSTATE 53100")
}

// StorageFull is the client's answer to a write that failed for lack of
// space: 507 Insufficient Storage, code "storage_full" in the API. It is an
// expected condition (reads go on working), not a fault of the portal.
func StorageFull(err error) *Error {
	return &Error{Code: http.StatusInsufficientStorage, Reason: "storage_full", Safe: StorageFullMessage, Err: err}
}

// storageFullFor is how long a write that failed for lack of space keeps
// the database reported full when nothing else can tell (PostgreSQL's disk
// is not ours to measure) and no write has succeeded since.
const storageFullFor = 30 * time.Second

// noteWrite records the outcome of a write transaction: a failure for lack
// of space marks the storage full, a success clears the mark.
func (db *DB) noteWrite(err error) {
	if db.fullSince == nil {
		return
	}
	switch {
	case err == nil:
		db.fullSince.Store(0)
	case IsStorageFull(err):
		db.fullSince.Store(time.Now().UnixNano())
	}
}

// StorageFull reports whether changes cannot be saved for lack of space.
// On SQLite the writer's page limit decides (the disk itself is checked by
// the caller, who knows the data dir); on PostgreSQL a recent write that
// failed with disk_full and no success since.
func (db *DB) StorageFull(ctx context.Context) (bool, error) {
	if db.Dialect == SQLite {
		var pages, limit, free int64
		for _, q := range []struct {
			pragma string
			dst    *int64
		}{{"page_count", &pages}, {"max_page_count", &limit}, {"freelist_count", &free}} {
			// The writer is one connection, and max_page_count is per connection.
			if err := db.SQL.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.dst); err != nil {
				return false, fmt.Errorf("read %s: %w", q.pragma, err)
			}
		}
		full := pages >= limit && free == 0
		if !full && db.fullSince != nil {
			db.fullSince.Store(0) // space is back
		}
		return full, nil
	}
	if db.fullSince == nil {
		return false, nil
	}
	since := db.fullSince.Load()
	return since != 0 && time.Since(time.Unix(0, since)) < storageFullFor, nil
}

// newFullMark makes the mark a handle made by Open carries.
func newFullMark() *atomic.Int64 { return new(atomic.Int64) }
