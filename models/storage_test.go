package models_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"allmende/models"
)

func TestIsStorageFull(t *testing.T) {
	for _, tc := range []struct {
		err  error
		full bool
	}{
		{fmt.Errorf("insert: %w", &pgconn.PgError{Code: "53100", Message: "could not extend file"}), true},
		{&fs.PathError{Op: "write", Path: "/data/x", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), false},
		{errors.New("boom"), false},
		{nil, false},
	} {
		if got := models.IsStorageFull(tc.err); got != tc.full {
			t.Errorf("IsStorageFull(%v) = %v", tc.err, got)
		}
	}
	if e := models.StorageFull(syscall.ENOSPC); e.Code != http.StatusInsufficientStorage || e.Reason != "storage_full" || e.Safe != models.StorageFullMessage {
		t.Errorf("StorageFull = %+v", e)
	}
}
