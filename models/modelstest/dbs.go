package modelstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"allmende/jobs"
	"allmende/models"
)

// eachDB runs fn against a fresh, migrated SQLite file and a fresh schema
// of the PostgreSQL database named by ALLMENDE_TEST_POSTGRES, because every
// query must work on both. Without PostgreSQL the test fails (set
// ALLMENDE_SKIP_POSTGRES=1 to run the SQLite half alone).
func EachDB(t *testing.T, fn func(t *testing.T, db *models.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, OpenSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, openPostgres(t))
	})
}

func OpenSQLite(t testing.TB) *models.DB {
	t.Helper()
	db, err := models.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	migrate(t, db)
	return db
}

func openPostgres(t *testing.T) *models.DB {
	t.Helper()
	db, err := models.Open(PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresDSN makes a fresh, migrated schema of the PostgreSQL database
// named by ALLMENDE_TEST_POSTGRES and returns a DSN for it, for tests that
// open it more than once (several portal instances on one database).
func PostgresDSN(t *testing.T) string {
	t.Helper()
	dsn := emptySchemaDSN(t)
	db, err := models.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrate(t, db)
	return dsn
}

// EachEmptyDB is EachDB with databases that have no schema yet, for tests
// of the migrations themselves.
func EachEmptyDB(t *testing.T, fn func(t *testing.T, db *models.DB)) {
	open := func(t *testing.T, dsn string) *models.DB {
		db, err := models.Open(dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	t.Run("sqlite", func(t *testing.T) {
		fn(t, open(t, filepath.Join(t.TempDir(), "test.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, open(t, emptySchemaDSN(t)))
	})
}

// emptySchemaDSN makes a fresh, empty schema of the PostgreSQL database
// named by ALLMENDE_TEST_POSTGRES, dropped when the test ends, and returns
// a DSN for it.
func emptySchemaDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("ALLMENDE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("ALLMENDE_SKIP_POSTGRES") == "1" {
			t.Skip("ALLMENDE_SKIP_POSTGRES=1")
		}
		t.Fatal("ALLMENDE_TEST_POSTGRES is not set; run the suite with: go tool task test")
	}
	admin, err := models.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if err := admin.Gorm.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := models.Open(dsn); err == nil {
			a.Gorm.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx passes unknown parameters to the server
	u.RawQuery = q.Encode()
	return u.String()
}

func migrate(t testing.TB, db *models.DB) {
	t.Helper()
	ctx := context.Background()
	if err := models.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Migrate(ctx, db, quietLog()); err != nil {
		t.Fatal(err)
	}
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// count returns the number of rows of table matching where.
func Count(t *testing.T, db *models.DB, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s", table)
	if where != "" {
		q += " WHERE " + where
	}
	if err := db.Gorm.Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func NewQueue(t testing.TB, db *models.DB) models.Queue {
	t.Helper()
	c, err := jobs.NewInsertOnly(db, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
