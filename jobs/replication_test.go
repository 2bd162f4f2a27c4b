package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"allmende/jobs"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/replication"
)

// fakeReplicator records requests and answers with err or a verified copy.
type fakeReplicator struct {
	mu   sync.Mutex
	reqs []jobs.ReplicateRequest
	err  error
}

func (f *fakeReplicator) Replicate(_ context.Context, req jobs.ReplicateRequest) (jobs.ReplicateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.err != nil {
		return jobs.ReplicateResult{BytesSent: 10}, f.err
	}
	return jobs.ReplicateResult{BytesSent: 1 << 20, Extents: 3, Duration: time.Second, Checkpoint: req.NewCheckpoint, Verified: true}, nil
}

type repEnv struct {
	db    *models.DB
	clock *models.ManualClock
	reps  *replication.Replicas
	vm    *compute.VM
	log   *slog.Logger
}

// newRepEnv makes two hosts and one running VM replicated between them.
func newRepEnv(t *testing.T, db *models.DB) *repEnv {
	t.Helper()
	ctx := context.Background()
	q := modelstest.NewQueue(t, db)
	e := &repEnv{db: db, clock: models.NewManualClock(time.Now().UTC().Truncate(time.Second)), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e.reps = replication.New(db, q, e.clock)
	hosts, plans, images := compute.NewHosts(db, q, func(string) error { return nil }), compute.NewPlans(db), compute.NewImages(db, q)
	vms := compute.NewVMs(db, q, compute.FixedEntitlement{VCPUs: 8, MemoryMiB: 8192, DiskGiB: 100}, models.SystemClock{})
	vms.SetPlacementGuard(e.reps)
	admin := testUser(t, db, "admin@example.org", "admin")
	av := models.Viewer{UserID: admin.UserID, Admin: true}
	var img *compute.Image
	for _, name := range []string{"a", "b"} {
		h, err := hosts.Add(ctx, admin, compute.HostInput{Name: name, URI: "qemu+tcp://" + name + "/system"})
		if err != nil {
			t.Fatal(err)
		}
		if err := hosts.StoreInventory(ctx, h.ID, compute.HostInventory{CPUs: 8, MemoryBytes: 16 << 30,
			Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: 100 << 30}}}); err != nil {
			t.Fatal(err)
		}
		if img, err = images.Register(ctx, admin, av, compute.ImageInput{Name: "debian", HostID: h.ID, Pool: "default",
			Volume: "debian.qcow2", Format: "qcow2", VirtualSizeBytes: 2 << 30}); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := plans.Create(ctx, admin, av, compute.PlanInput{Name: "small", VCPUs: 1, MemoryMiB: 1024, DiskGiB: 10})
	if err != nil {
		t.Fatal(err)
	}
	m := testUser(t, db, "m@example.org", "member")
	if e.vm, _, err = vms.Create(ctx, m, models.Viewer{UserID: m.UserID}, compute.VMInput{Name: "web", PlanID: plan.ID, ImageID: img.ID}); err != nil {
		t.Fatal(err)
	}
	if err := db.Gorm.Exec("UPDATE vms SET state = 'running' WHERE id = ?", e.vm.ID).Error; err != nil {
		t.Fatal(err)
	}
	return e
}

func testUser(t *testing.T, db *models.DB, email, role string) models.Actor {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	now := time.Now().UTC()
	if err := db.Gorm.Exec("INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, 'x', ?, ?)",
		id, email, strings.Split(email, "@")[0], now, now).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Gorm.Exec("INSERT INTO user_roles (user_id, role, granted_at) VALUES (?, ?, ?)", id, role, now).Error; err != nil {
		t.Fatal(err)
	}
	return models.Actor{UserID: id, Email: email}
}

func (e *repEnv) run(t *testing.T, f *fakeReplicator) {
	t.Helper()
	w := jobs.NewReplicationRunWorker(e.reps, f, e.log)
	job := &river.Job[jobargs.ReplicationRun]{JobRow: &rivertype.JobRow{ID: 1, Attempt: 1, MaxAttempts: 3}, Args: jobargs.ReplicationRun{VMID: e.vm.ID}}
	if err := w.Work(context.Background(), job); err != nil {
		t.Fatal(err)
	}
}

func (e *repEnv) status(t *testing.T) *replication.Status {
	t.Helper()
	s, err := e.reps.Get(context.Background(), models.Viewer{Admin: true}, e.vm.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A run copies the whole disk first, then from the last checkpoint, and
// records bytes and the good copy.
func TestReplicationRunSuccess(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newRepEnv(t, db)
		f := &fakeReplicator{}
		e.run(t, f)
		if len(f.reqs) != 1 {
			t.Fatalf("%d copies", len(f.reqs))
		}
		r := f.reqs[0]
		if r.FromCheckpoint != "" || !strings.HasPrefix(r.NewCheckpoint, "allmende-rep-") || r.Disk != "vda" || r.Domain != e.vm.DomainName() ||
			r.Target.Volume != e.vm.DiskVolume() || r.Target.Pool != "default" || r.Target.URI == r.SourceURI {
			t.Fatalf("first request: %+v", r)
		}
		s := e.status(t)
		if s.Health != replication.HealthGood || s.BytesLast != 1<<20 || len(s.Runs) != 1 || s.Runs[0].Extents != 3 || s.Runs[0].DurationMS != 1000 {
			t.Fatalf("after run: %+v", s)
		}
		e.run(t, f) // not due yet: nothing copied
		if len(f.reqs) != 1 {
			t.Fatalf("ran before due")
		}
		e.clock.Set(e.clock.Now().Add(5 * time.Minute))
		e.run(t, f)
		if len(f.reqs) != 2 || f.reqs[1].FromCheckpoint != r.NewCheckpoint {
			t.Fatalf("second copy not incremental from %s: %+v", r.NewCheckpoint, f.reqs)
		}
	})
}

// A failed copy is recorded with its error and a backoff; the job itself
// succeeds (the domain schedules the retry), and the last good copy stays.
func TestReplicationRunFailureBacksOff(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newRepEnv(t, db)
		e.run(t, &fakeReplicator{})
		good := e.status(t).LastGoodAt
		e.clock.Set(e.clock.Now().Add(5 * time.Minute))
		e.run(t, &fakeReplicator{err: errors.New("target pool full")})
		s := e.status(t)
		if s.Health != replication.HealthFailing || s.LastError != "target pool full" || s.Failures != 1 ||
			!s.LastGoodAt.Equal(*good) || !s.NextRunAt.Equal(e.clock.Now().Add(30*time.Second)) {
			t.Fatalf("after failure: %+v", s)
		}
		e.run(t, &fakeReplicator{}) // backing off
		if s := e.status(t); s.Failures != 1 {
			t.Fatalf("ran during backoff: %+v", s)
		}
		e.clock.Set(e.clock.Now().Add(30 * time.Second))
		e.run(t, &fakeReplicator{err: context.DeadlineExceeded})
		if s := e.status(t); s.Failures != 2 || !strings.Contains(s.LastError, "interrupted") {
			t.Fatalf("interrupted: %+v", s)
		}
	})
}

// The schedule enqueues one run per due VM, and never a second while the
// first is queued: enqueueing twice leaves one job.
func TestReplicationScheduleUnique(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newRepEnv(t, db)
		w := jobs.NewReplicationScheduleWorker(e.reps, &fakeReplicator{}, e.log)
		for range 2 {
			if err := w.Work(context.Background(), &river.Job[jobargs.ReplicationSchedule]{JobRow: &rivertype.JobRow{}}); err != nil {
				t.Fatal(err)
			}
		}
		if n := modelstest.Count(t, db, "river_job", "kind = 'replication.run'"); n != 1 {
			t.Fatalf("%d run jobs, want 1", n)
		}
		// Without a replicator the schedule copies nothing.
		if err := db.Gorm.Exec("DELETE FROM river_job").Error; err != nil {
			t.Fatal(err)
		}
		w = jobs.NewReplicationScheduleWorker(e.reps, nil, e.log)
		if err := w.Work(context.Background(), &river.Job[jobargs.ReplicationSchedule]{JobRow: &rivertype.JobRow{}}); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = 'replication.run'"); n != 0 {
			t.Fatalf("%d run jobs without a replicator", n)
		}
	})
}
