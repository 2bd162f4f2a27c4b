package kit

import (
	"allmende/models"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// isUniqueViolation recognises a unique-constraint failure on both back ends.
// gorm's sqlite translator does not know modernc's error type, so SQLite
// codes are checked here directly.
func IsUniqueViolation(err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return strings.Contains(err.Error(), "SQLSTATE 23505")
}

// first loads a row by id, mapping "no row" to a NotFound error.
func First(tx *gorm.DB, dst any, id, what string) error {
	err := tx.First(dst, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.NotFoundError(what)
	}
	if err != nil {
		return fmt.Errorf("load %s %s: %w", what, id, err)
	}
	return nil
}

// forUpdate locks the rows a query reads until the transaction ends
// (PostgreSQL; SQLite serialises writers anyway).
func ForUpdate(tx *gorm.DB) *gorm.DB {
	return tx.Clauses(clause.Locking{Strength: "UPDATE"})
}
