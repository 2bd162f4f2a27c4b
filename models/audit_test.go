package models_test

import (
	"context"
	"testing"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

func TestAuditLogIsAppendOnly(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		modelstest.Register(t, account.NewAccounts(db), "ada@example.org")
		if err := db.Gorm.Exec("UPDATE audit_events SET action = 'forged'").Error; err == nil {
			t.Error("UPDATE on audit_events succeeded; the log must be append-only")
		}
		if err := db.Gorm.Exec("DELETE FROM audit_events").Error; err == nil {
			t.Error("DELETE on audit_events succeeded; the log must be append-only")
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ?", "user.register"); n != 1 {
			t.Errorf("audit entries = %d, want 1", n)
		}
	})
}

func TestAuditFilter(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		ada := modelstest.Register(t, a, "ada@example.org")
		modelstest.Register(t, a, "bob_b@example.org")
		_, _ = a.Authenticate(ctx, "192.0.2.1", "ada@example.org", "wrong password!")
		log := models.NewAuditLog(db)

		all, err := log.List(ctx, models.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 || all[0].Action != "user.login_failed" {
			t.Fatalf("want 3 entries newest first, got %+v", all)
		}
		byAction, _ := log.List(ctx, models.AuditFilter{Action: "user.reg"})
		if len(byAction) != 2 {
			t.Errorf("action prefix filter: %d entries, want 2", len(byAction))
		}
		// "_" must match literally, not as a LIKE wildcard.
		byActor, _ := log.List(ctx, models.AuditFilter{Actor: "B_B"})
		if len(byActor) != 1 || byActor[0].ActorEmail != "bob_b@example.org" {
			t.Errorf("actor filter: %+v", byActor)
		}
		wild, _ := log.List(ctx, models.AuditFilter{Actor: "%"})
		if len(wild) != 0 {
			t.Errorf("%% matched as wildcard: %d entries", len(wild))
		}
		byTarget, _ := log.List(ctx, models.AuditFilter{Target: ada.ID})
		if len(byTarget) != 1 {
			t.Errorf("target filter: %d entries, want 1", len(byTarget))
		}
		page2, _ := log.List(ctx, models.AuditFilter{Before: all[0].ID, Limit: 1})
		if len(page2) != 1 || page2[0].ID != all[1].ID {
			t.Errorf("paging: %+v", page2)
		}
	})
}
