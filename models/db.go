// Package models holds Allmende's entities, domain rules and storage.
//
// It knows nothing of HTTP or libvirt: handlers call its services, and its
// services record state changes, audit entries and background jobs in one
// transaction.
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"gorm.io/driver/postgres"
	gormsqlite "gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver
)

// Dialect names the database back end.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB bundles the gorm handle with the raw pool River needs.
//
// Both share one *sql.DB so that a gorm transaction can hand its *sql.Tx to
// River and the state change and the job commit together.
type DB struct {
	Gorm    *gorm.DB
	SQL     *sql.DB
	Dialect Dialect

	// Read serves hot read-only queries outside transactions (the signed-in
	// user on every request). On SQLite it is a separate pool of read-only
	// connections, which WAL lets run beside the single writer; on
	// PostgreSQL it is Gorm itself.
	Read    *gorm.DB
	readSQL *sql.DB

	// locals holds per-handle state of domain packages (account's cache
	// of signed-in users), see Local. Only a handle made by Open has it.
	locals *sync.Map
	// fullSince is when a write last failed for lack of space (unix
	// nanoseconds, 0: not since the last success), see StorageFull.
	fullSince *atomic.Int64
}

// Open connects to the database named by dsn: a postgres:// URL selects
// PostgreSQL, anything else is a SQLite file path.
func Open(dsn string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(dsn)
	}
	return openSQLite(dsn)
}

func openSQLite(path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// Create the file 0600 before SQLite does (it would use the umask): the
	// data dir is traversable for QEMU, the database must not be readable.
	// SQLite gives the -wal and -shm files the same mode.
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
		_ = os.Chmod(path, 0o600) // tighten a file made by an older version
	}
	sqlDB, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// SQLite allows one writer. With a larger pool modernc returns SQLITE_BUSY
	// despite busy_timeout (see docs/stack notes), so every statement goes
	// through one connection; River's own tests do the same.
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetConnMaxLifetime(0)
	g, err := gorm.Open(gormsqlite.New(gormsqlite.Config{Conn: sqlDB}), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("open gorm on sqlite: %w", err)
	}
	db := &DB{Gorm: g, SQL: sqlDB, Dialect: SQLite, locals: new(sync.Map), fullSince: newFullMark()}
	if err := db.ping(); err != nil {
		return nil, err
	}
	// The writer has switched the file to WAL by now, so readers can open.
	readDB, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open sqlite readers %s: %w", path, err)
	}
	readDB.SetMaxOpenConns(4)
	readDB.SetMaxIdleConns(4)
	rg, err := gorm.Open(gormsqlite.New(gormsqlite.Config{Conn: readDB}), gormConfig())
	if err != nil {
		sqlDB.Close()
		readDB.Close()
		return nil, fmt.Errorf("open gorm readers on sqlite: %w", err)
	}
	db.Read, db.readSQL = rg, readDB
	return db, nil
}

func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	pragmas := []string{
		"busy_timeout(10000)", // a CLI command and the server may write at once
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"foreign_keys(ON)",
	}
	if readOnly {
		pragmas = []string{"busy_timeout(10000)", "query_only(1)"}
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if !readOnly {
		q.Set("_txlock", "immediate") // take the write lock at BEGIN, so no deadlock upgrading it later
	}
	return "file:" + path + "?" + q.Encode()
}

func openPostgres(dsn string) (*DB, error) {
	sqlDB, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sqlDB.SetMaxOpenConns(20)
	g, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("open gorm on postgres: %w", err)
	}
	db := &DB{Gorm: g, SQL: sqlDB, Dialect: Postgres, Read: g, locals: new(sync.Map), fullSince: newFullMark()}
	if err := db.ping(); err != nil {
		return nil, err
	}
	return db, nil
}

func gormConfig() *gorm.Config {
	return &gorm.Config{
		Logger:         logger.Discard,
		PrepareStmt:    true, // every page reads the signed-in user; parse that SQL once
		NowFunc:        func() time.Time { return time.Now().UTC() },
		TranslateError: true,
	}
}

func (db *DB) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.SQL.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s database: %w", db.Dialect, err)
	}
	return nil
}

// Ping reports whether the database answers; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// Close closes the prepared statements and the pools.
func (db *DB) Close() error {
	var errs []error
	if cache, ok := db.Local(readStmtsKey{}, func() any { return new(sync.Map) }).(*sync.Map); ok {
		cache.Range(func(_, st any) bool {
			errs = append(errs, st.(*sql.Stmt).Close())
			return true
		})
	}
	if db.readSQL != nil {
		errs = append(errs, db.readSQL.Close())
	}
	errs = append(errs, db.SQL.Close())
	return errors.Join(errs...)
}

// Local returns the value a domain package keeps for this handle under key,
// made by mk on first use, so that every service on one database shares it
// (account's cache of signed-in users). A DB assembled by hand, as some
// tests do, keeps nothing: Local returns nil.
func (db *DB) Local(key any, mk func() any) any {
	if db.locals == nil {
		return nil
	}
	if v, ok := db.locals.Load(key); ok {
		return v
	}
	v, _ := db.locals.LoadOrStore(key, mk())
	return v
}

type readStmtsKey struct{}

// ReadStmt returns query prepared on the read pool, once per handle. It is
// for the few queries every page runs: gorm builds its statement anew on
// each call (reflection, clauses), which cost twice what SQLite takes to
// answer a count. query uses ? placeholders (none inside literals); on
// PostgreSQL they become $1, $2, …. database/sql prepares the statement
// again on each connection that runs it.
func (db *DB) ReadStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	cache, _ := db.Local(readStmtsKey{}, func() any { return new(sync.Map) }).(*sync.Map)
	if cache == nil {
		return nil, errors.New("prepared statements need a database opened by models.Open")
	}
	if st, ok := cache.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	pool, q := db.readSQL, query
	if pool == nil { // PostgreSQL reads on the one pool
		pool = db.SQL
	}
	if db.Dialect == Postgres {
		q = dollarPlaceholders(query)
	}
	st, err := pool.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", query, err)
	}
	if prev, raced := cache.LoadOrStore(query, st); raced {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// dollarPlaceholders numbers the ? placeholders of q for PostgreSQL.
func dollarPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Tx runs fn in one transaction on the writer: the state change, its audit
// entry and any job insert commit together or not at all. It is the one way
// domain packages open a transaction; fn's error rolls it back. A write
// that fails for lack of space comes back as StorageFull (507), which
// forms and the API show as such.
func (db *DB) Tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	hooks := &commitHooks{db: db}
	err := db.Gorm.WithContext(context.WithValue(ctx, commitHooksKey{}, hooks)).Transaction(fn)
	db.noteWrite(err)
	if err == nil {
		for _, f := range hooks.fns {
			f(db)
		}
	}
	if IsStorageFull(err) {
		if e, ok := AsError(err); !ok || e.Code != http.StatusInsufficientStorage {
			return StorageFull(err)
		}
	}
	return err
}

// commitHooks are what AfterCommit collected in one DB.Tx.
type commitHooks struct {
	db  *DB
	fns []func(*DB)
}

type commitHooksKey struct{}

// AfterCommit runs fn once the transaction tx belongs to has committed, and
// not at all when it rolls back. It is for a process's caches of rows the
// transaction changes (unread notifications): forgetting an entry before
// the commit would let a concurrent read put the old value back. tx must
// come from DB.Tx; in any other transaction (a test's own) fn never runs,
// and such caches must bound their staleness by time as well.
func AfterCommit(tx *gorm.DB, fn func(db *DB)) {
	if hooks, ok := tx.Statement.Context.Value(commitHooksKey{}).(*commitHooks); ok {
		hooks.fns = append(hooks.fns, fn)
	}
}
