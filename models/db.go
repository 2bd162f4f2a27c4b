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
	"net/url"
	"os"
	"path/filepath"
	"strings"
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
	q := url.Values{}
	for _, p := range []string{
		"busy_timeout(10000)", // a CLI command and the server may write at once
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"foreign_keys(ON)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate") // take the write lock at BEGIN, so no deadlock upgrading it later
	sqlDB, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
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
	db := &DB{Gorm: g, SQL: sqlDB, Dialect: SQLite}
	if err := db.ping(); err != nil {
		return nil, err
	}
	return db, nil
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
	db := &DB{Gorm: g, SQL: sqlDB, Dialect: Postgres}
	if err := db.ping(); err != nil {
		return nil, err
	}
	return db, nil
}

func gormConfig() *gorm.Config {
	return &gorm.Config{
		Logger:         logger.Discard,
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

// Close closes the pool.
func (db *DB) Close() error { return db.SQL.Close() }

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")
