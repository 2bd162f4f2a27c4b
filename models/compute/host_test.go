package compute_test

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

func acceptURI(string) error { return nil }

func TestAddHostEnqueuesRefreshInSameTransaction(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		hosts := compute.NewHosts(db, modelstest.NewQueue(t, db), acceptURI)
		admin := models.Actor{Email: "admin@example.org"}

		h, err := hosts.Add(ctx, admin, compute.HostInput{Name: "Node-1", URI: "qemu+tcp://10.0.0.1:16509/system"})
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "node-1" {
			t.Errorf("name = %q", h.Name)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = ?", "host.refresh"); n != 1 {
			t.Errorf("refresh jobs = %d, want 1", n)
		}

		// A rejected host leaves no row, no audit entry and no job.
		jobsBefore, auditBefore := modelstest.Count(t, db, "river_job", ""), modelstest.Count(t, db, "audit_events", "")
		_, err = hosts.Add(ctx, admin, compute.HostInput{Name: "node-1", URI: "qemu+tcp://10.0.0.2:16509/system"})
		modelstest.FieldErr(t, err, "name")
		_, err = hosts.Add(ctx, admin, compute.HostInput{Name: "bad name!", URI: "x"})
		modelstest.FieldErr(t, err, "name")
		if n := modelstest.Count(t, db, "river_job", ""); n != jobsBefore {
			t.Errorf("jobs after rejected host = %d, want %d", n, jobsBefore)
		}
		if n := modelstest.Count(t, db, "audit_events", ""); n != auditBefore {
			t.Errorf("audit after rejected host = %d, want %d", n, auditBefore)
		}

		// Refreshing twice while one is queued keeps one job.
		if err := hosts.RequestRefresh(ctx, admin, h.ID); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = ?", "host.refresh"); n != 1 {
			t.Errorf("refresh jobs after second request = %d, want 1 (unique while queued)", n)
		}
		if err := hosts.RequestRefresh(ctx, admin, "no-such-host"); err == nil {
			t.Error("refresh of unknown host succeeded")
		}
	})
}

func TestEnqueueRollsBackWithTransaction(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		q := modelstest.NewQueue(t, db)
		hosts := compute.NewHosts(db, q, acceptURI)
		boom := errors.New("boom")
		// EnsureLocal inserts host, audit and job in one transaction; run it
		// inside an outer transaction that fails afterwards.
		err := db.Gorm.Transaction(func(tx *gorm.DB) error {
			inner := compute.NewHosts(&models.DB{Gorm: tx, SQL: db.SQL, Dialect: db.Dialect}, q, acceptURI)
			if _, err := inner.EnsureLocal(ctx, "test+unix:///default?socket=/x"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("want boom, got %v", err)
		}
		for _, table := range []string{"hosts", "audit_events", "river_job"} {
			if n := modelstest.Count(t, db, table, ""); n != 0 {
				t.Errorf("%s has %d rows after rollback, want 0", table, n)
			}
		}
		// And committed, everything is there.
		if _, err := hosts.EnsureLocal(ctx, "test+unix:///default?socket=/x"); err != nil {
			t.Fatal(err)
		}
		if _, err := hosts.EnsureLocal(ctx, "test+unix:///default?socket=/x"); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "hosts", "name = ?", compute.LocalHostName); n != 1 {
			t.Errorf("local hosts = %d, want 1", n)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = ?", "host.refresh"); n != 1 {
			t.Errorf("refresh jobs = %d, want 1", n)
		}
	})
}
