package models_test

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/modelstest"
)

// AfterCommit's function runs once the transaction committed, never
// before and never after a rollback.
func TestAfterCommit(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		for _, fail := range []bool{false, true} {
			ran := 0
			err := db.Tx(context.Background(), func(tx *gorm.DB) error {
				models.AfterCommit(tx, func(got *models.DB) {
					if got != db {
						t.Error("AfterCommit got another handle")
					}
					ran++
				})
				if ran != 0 {
					t.Error("AfterCommit ran inside the transaction")
				}
				if fail {
					return errors.New("roll back")
				}
				return nil
			})
			if fail != (err != nil) {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 1, true: 0}[fail]; ran != want {
				t.Errorf("rolled back %v: ran %d times, want %d", fail, ran, want)
			}
		}
	})
}
