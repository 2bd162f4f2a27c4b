package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"allmende/hypervisor"
	"allmende/jobs"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/modelstest"
	"allmende/models/replication"
)

// fastClock runs factor times faster than the wall clock, so that a 30 s
// interval comes round many times in a short test.
type fastClock struct {
	start  time.Time
	factor time.Duration
}

func (c fastClock) Now() time.Time { return c.start.Add(time.Since(c.start) * c.factor) }

// overlapDetector is the disks of a host pair as two portals' workers see
// them: it notes every copy (and every apply of a staged copy) while it
// runs, and how many ran at once for one VM.
type overlapDetector struct {
	mu        sync.Mutex
	active    map[string]int // per domain
	maxActive int
	copies    map[string]int // per instance
}

// instanceReplicator is one portal instance's view of the detector.
type instanceReplicator struct {
	*fakeReplicator
	name string
	d    *overlapDetector
}

func (r *instanceReplicator) enter(domain string) {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	r.d.active[domain]++
	r.d.maxActive = max(r.d.maxActive, r.d.active[domain])
	r.d.copies[r.name]++
}

func (r *instanceReplicator) leave(domain string) {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	r.d.active[domain]--
}

func (r *instanceReplicator) Replicate(ctx context.Context, req hypervisor.ReplicateRequest) (hypervisor.ReplicateResult, error) {
	r.enter(req.Domain)
	defer r.leave(req.Domain)
	time.Sleep(time.Duration(2+rand.IntN(20)) * time.Millisecond)
	if rand.IntN(10) == 0 {
		return hypervisor.ReplicateResult{}, errors.New("connection reset by peer")
	}
	return r.fakeReplicator.Replicate(ctx, req)
}

func (r *instanceReplicator) ApplyStaged(ctx context.Context, req hypervisor.ApplyRequest) (hypervisor.ApplyResult, error) {
	r.enter(req.Volume)
	defer r.leave(req.Volume)
	time.Sleep(time.Duration(1+rand.IntN(5)) * time.Millisecond)
	return r.fakeReplicator.ApplyStaged(ctx, req)
}

// Two portal instances (two River clients with their own connection pools)
// on one PostgreSQL database, each ticking the schedule every few
// milliseconds and, on top, inserting run jobs that River's uniqueness does
// not cover (so that only the lease stands between them): one VM's
// replication never runs twice at once, neither in the disks' view nor in
// the runs table.
func TestReplicationTwoInstancesNeverOverlap(t *testing.T) {
	dsn := modelstest.PostgresDSN(t)
	open := func() *models.DB {
		db, err := models.Open(dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db1, db2 := open(), open()
	e := newRepEnv(t, db1)
	ctx := context.Background()
	admin := testUser(t, db1, "planner@example.org", "admin")
	thirty := int64(30)
	if err := e.reps.SetPlanInterval(ctx, admin, models.Viewer{UserID: admin.UserID, Admin: true}, e.vm.PlanID, &thirty); err != nil {
		t.Fatal(err)
	}

	clock := fastClock{start: time.Now(), factor: 300} // 30 s in 100 ms
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &overlapDetector{active: map[string]int{}, copies: map[string]int{}}
	shared := &fakeReplicator{}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var clients []*river.Client[*sql.Tx]
	for i, db := range []*models.DB{db1, db2} {
		rep := &instanceReplicator{fakeReplicator: shared, name: fmt.Sprintf("portal-%d", i+1), d: d}
		workers := river.NewWorkers()
		var reps *replication.Replicas
		// The worker needs the service and the service the client (its
		// queue): the worker gets the service through this pointer.
		runWorker := &lateRunWorker{}
		river.AddWorker(workers, runWorker)
		c, err := river.NewClient(riverdatabasesql.New(db.SQL), &river.Config{
			ID: rep.name, Logger: log, Workers: workers,
			Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
			FetchCooldown:     5 * time.Millisecond,
			FetchPollInterval: 10 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		reps = replication.New(db, c, clock)
		runWorker.w = jobs.NewReplicationRunWorker(reps, rep, log)
		if err := c.Start(runCtx); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		// The schedule's ticks, and a run job River's uniqueness does not
		// stop, as fast as the database takes them.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				if _, err := reps.EnqueueDue(runCtx); err != nil && runCtx.Err() == nil {
					t.Errorf("%s: enqueue due: %v", rep.name, err)
					return
				}
				if rand.IntN(3) == 0 {
					if _, err := c.Insert(runCtx, jobargs.ReplicationRun{VMID: e.vm.ID}, &river.InsertOpts{MaxAttempts: 1}); err != nil && runCtx.Err() == nil {
						t.Errorf("%s: insert: %v", rep.name, err)
						return
					}
				}
				time.Sleep(time.Duration(10+rand.IntN(20)) * time.Millisecond)
			}
		}()
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int64
		if err := db1.Gorm.Model(&replication.Run{}).Where("vm_id = ? AND finished_at IS NOT NULL", e.vm.ID).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	wg.Wait()
	for _, c := range clients {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.Stop(sctx); err != nil {
			t.Errorf("stop client: %v", err)
		}
		cancel()
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	t.Logf("copies and applies per instance: %v; at most %d at once for the vm", d.copies, d.maxActive)
	if d.maxActive != 1 {
		t.Errorf("one vm's replication ran %d times at once", d.maxActive)
	}
	var runs []replication.Run
	if err := db1.Gorm.Where("vm_id = ?", e.vm.ID).Order("started_at, id").Find(&runs).Error; err != nil {
		t.Fatal(err)
	}
	if len(runs) < 20 {
		t.Fatalf("only %d runs: the test did not exercise the schedule", len(runs))
	}
	// Runs of one VM, ordered by start, each ended before the next began
	// (the runs table's clock is the same for both instances).
	for i, r := range runs {
		if r.FinishedAt == nil {
			if i != len(runs)-1 {
				t.Errorf("run %d of %d (%s) never finished, yet later runs started", i+1, len(runs), r.ID)
			}
			continue
		}
		// A run's times are taken just outside the lease's transactions, so
		// the next run's start may precede the last one's recorded end by
		// a few milliseconds of real time — 300 times that on this clock
		// (under load, seconds). Real overlap is what the detector above
		// counts; here only an overlap beyond that slack is one.
		const slack = 30 * time.Second // 100 ms of real time
		if i+1 < len(runs) && runs[i+1].StartedAt.Add(slack).Before(*r.FinishedAt) {
			t.Errorf("run %s [%s, %s] overlaps the next, %s from %s", r.ID, r.StartedAt.Format(time.StampMicro),
				r.FinishedAt.Format(time.StampMicro), runs[i+1].ID, runs[i+1].StartedAt.Format(time.StampMicro))
		}
	}
	t.Logf("%d runs of one vm recorded", len(runs))
}

// lateRunWorker hands jobs to a run worker made after the client (the
// worker's service needs the client as its queue).
type lateRunWorker struct {
	river.WorkerDefaults[jobargs.ReplicationRun]
	w *jobs.ReplicationRunWorker
}

func (l *lateRunWorker) Work(ctx context.Context, job *river.Job[jobargs.ReplicationRun]) error {
	return l.w.Work(ctx, job)
}
