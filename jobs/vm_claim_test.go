package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"allmende/hypervisor/hvtest"
	"allmende/jobs/jobargs"
	"allmende/models"
)

func openTestDB(t *testing.T, path string) *models.DB {
	t.Helper()
	db, err := models.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := models.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return db
}

// A job left running by a dead process is available again right after
// ClaimQueue, and a second process cannot claim the same database.
func TestClaimQueueHandsBackOrphans(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allmende.db")
	db := openTestDB(t, path)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	q, err := NewInsertOnly(db, log)
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.Insert(ctx, jobargs.Reconcile{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// What a worker's fetch does, as in a process then killed.
	if _, err := db.SQL.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = ?`, res.Job.ID); err != nil {
		t.Fatal(err)
	}

	release, err := ClaimQueue(ctx, db, log)
	if err != nil {
		t.Fatal(err)
	}
	var state, errs string
	var attempt int
	if err := db.SQL.QueryRowContext(ctx, `SELECT state, attempt, json(errors) FROM river_job WHERE id = ?`, res.Job.ID).
		Scan(&state, &attempt, &errs); err != nil {
		t.Fatal(err)
	}
	if state != string(rivertype.JobStateAvailable) || attempt != 1 || !strings.Contains(errs, "handed back at start-up") {
		t.Errorf("after claim: state %s, attempt %d, errors %s", state, attempt, errs)
	}

	// Another portal on the same file (its own connection pool) is refused.
	other := openTestDB(t, path)
	if _, err := ClaimQueue(ctx, other, log); err == nil || !strings.Contains(err.Error(), "another portal") {
		t.Fatalf("second claim: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	release2, err := ClaimQueue(ctx, other, log)
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	release2()
}

func TestVMRetryDelaysAndReasons(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 4 * time.Second, 4: 30 * time.Second, 9: 30 * time.Second} {
		got := time.Until(vmNextRetry(&rivertype.JobRow{Attempt: attempt}))
		if got > want || got < want-time.Second {
			t.Errorf("attempt %d: retry in %s, want %s", attempt, got, want)
		}
	}

	lerr := hvtest.LibvirtError(38, "Cannot access storage file 'x': Permission denied")
	wrapped := errors.Join(errors.New("start domain d on qemu+unix:///system?socket=/tmp/s"), lerr)
	r := readable("starting", wrapped)
	de, ok := models.AsError(r)
	if !ok || de.Safe != "starting: Cannot access storage file 'x': Permission denied" || de.Code != http.StatusInternalServerError {
		t.Errorf("readable = %#v", r)
	}
	if !errors.Is(r, wrapped) {
		t.Error("readable lost the cause")
	}
	p := readable("creating disk volume", permanent("the plan's disk is smaller than the image"))
	if de, _ := models.AsError(p); de.Safe != "creating disk volume: the plan's disk is smaller than the image" || !isPermanent(p) {
		t.Errorf("permanent reason = %#v", p)
	}
	if isPermanent(errors.New("x")) {
		t.Error("a plain error counts as permanent")
	}
}
