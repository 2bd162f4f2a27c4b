package models_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/modelstest"
)

// TestNoPlaintextSecretBallotsMigration: migration 90 drops the plaintext
// secret ballots, so it must not run while an assembly still votes on a
// secret item without an election key (its ballots would be lost). It
// stops with the assembly named and leaves the schema as it was; once that
// vote is closed, or the assembly has an election key, it goes through.
func TestNoPlaintextSecretBallotsMigration(t *testing.T) {
	modelstest.EachEmptyDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		if err := models.MigrateTo(ctx, db, 89); err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		exec := func(q string, args ...any) {
			t.Helper()
			if err := db.Gorm.Exec(q, args...).Error; err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		assembly := func(id, title, status string) {
			exec(`INSERT INTO assemblies (id, title, form, status, voting_start, voting_end, created_at)
				VALUES (?, ?, 'virtual', ?, ?, ?, ?)`, id, title, status, now, now.Add(24*time.Hour), now)
			exec(`INSERT INTO agenda_items (id, assembly_id, position, title, kind, secret, majority_num, majority_den)
				VALUES (?, ?, 1, 'Board election', 'ordinary', ?, 1, 2)`, id+"-item", id, true)
		}
		assembly("a-plain", "Plaintext vote", "voting")
		assembly("a-keyed", "Encrypted vote", "voting")
		exec(`INSERT INTO elections (assembly_id, threshold, public_key) VALUES ('a-keyed', 1, 'abcd')`)
		assembly("a-closed", "Closed vote", "closed")

		err := models.Migrate(ctx, db)
		if err == nil {
			t.Fatal("migration 90 ran while an assembly votes on a secret item without an election key")
		}
		if !strings.Contains(err.Error(), `"Plaintext vote" (a-plain)`) || strings.Contains(err.Error(), "a-keyed") ||
			strings.Contains(err.Error(), "a-closed") {
			t.Errorf("error names the wrong assemblies: %v", err)
		}
		if !db.Gorm.Migrator().HasTable("secret_ballots") {
			t.Fatal("the refused migration dropped secret_ballots anyway")
		}

		exec(`UPDATE assemblies SET status = 'closed' WHERE id = 'a-plain'`)
		if err := models.Migrate(ctx, db); err != nil {
			t.Fatalf("migration after the vote closed: %v", err)
		}
		if db.Gorm.Migrator().HasTable("secret_ballots") {
			t.Error("secret_ballots is still there after migration 90")
		}
	})
}
