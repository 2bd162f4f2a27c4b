package models

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate brings the schema up to date. It is safe to call from several
// processes at once: PostgreSQL takes an advisory lock, and SQLite has a
// single writer anyway.
func Migrate(ctx context.Context, db *DB) error { return migrateTo(ctx, db, 0) }

// migrateTo applies the migrations up to version (0: all of them); tests
// use it to put data into an older schema before a migration runs.
func migrateTo(ctx context.Context, db *DB, version int64) error {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithGoMigrations(appendOnlyAudit(db.Dialect), appendOnlyLedgers(db.Dialect), secretBallots(db.Dialect),
		meteringSeries(db.Dialect), vmStateHistory(db.Dialect), appendOnlyStatements(db.Dialect),
		assemblyDocuments(db.Dialect), noPlaintextSecretBallots(db.Dialect))}
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.SQL, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	up := p.Up
	if version > 0 {
		up = func(ctx context.Context) ([]*goose.MigrationResult, error) { return p.UpTo(ctx, version) }
	}
	if _, err := up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// appendOnlyAudit makes the database itself refuse UPDATE and DELETE on the
// audit log, so not even a bug in the portal can rewrite history. Trigger
// syntax differs between the back ends, hence a Go migration.
func appendOnlyAudit(d Dialect) *goose.Migration {
	sqliteUp := []string{
		`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
		 BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
		`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
		 BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
	}
	postgresUp := []string{
		`CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS
		 $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$`,
		`CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
		 FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`,
	}
	sqliteDown := []string{`DROP TRIGGER audit_events_no_update`, `DROP TRIGGER audit_events_no_delete`}
	postgresDown := []string{`DROP TRIGGER audit_events_no_change ON audit_events`, `DROP FUNCTION audit_events_append_only()`}

	up, down := sqliteUp, sqliteDown
	if d == Postgres {
		up, down = postgresUp, postgresDown
	}
	return goose.NewGoMigration(2, &goose.GoFunc{RunTx: execAll(up)}, &goose.GoFunc{RunTx: execAll(down)})
}

func execAll(stmts []string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
}
