package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"allmende/hypervisor"
	"allmende/jobs"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/replication"
)

// fakeReplicator records requests and answers with err or a verified copy;
// it keeps the checkpoints a real source would.
type fakeReplicator struct {
	mu          sync.Mutex
	reqs        []hypervisor.ReplicateRequest
	err         error
	checkpoints []string
	deleted     []string // volumes
	applied     []hypervisor.ApplyRequest
	applyErr    error
}

func (f *fakeReplicator) Replicate(_ context.Context, req hypervisor.ReplicateRequest) (hypervisor.ReplicateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.err != nil {
		return hypervisor.ReplicateResult{BytesSent: 10}, f.err
	}
	if req.FromCheckpoint != "" && !slices.Contains(f.checkpoints, req.FromCheckpoint) {
		return hypervisor.ReplicateResult{}, fmt.Errorf("replicate: %w: %s", hypervisor.ErrNoCheckpoint, req.FromCheckpoint)
	}
	f.checkpoints = append(f.checkpoints, req.NewCheckpoint)
	return hypervisor.ReplicateResult{Full: req.FromCheckpoint == "", BytesSent: 1 << 20, Extents: 3, Duration: time.Second,
		Checkpoint: req.NewCheckpoint, Verified: true}, nil
}

func (f *fakeReplicator) ApplyStaged(_ context.Context, req hypervisor.ApplyRequest) (hypervisor.ApplyResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, req)
	return hypervisor.ApplyResult{Bytes: 1 << 20}, f.applyErr
}

func (f *fakeReplicator) ListCheckpoints(_ context.Context, _, _ string) ([]hypervisor.Checkpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []hypervisor.Checkpoint
	for _, c := range f.checkpoints {
		out = append(out, hypervisor.Checkpoint{Name: c})
	}
	return out, nil
}

func (f *fakeReplicator) DeleteCheckpoint(_ context.Context, _, _, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkpoints = slices.DeleteFunc(f.checkpoints, func(c string) bool { return c == name })
	return nil
}

func (f *fakeReplicator) DeleteVolume(_ context.Context, uri, pool, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, uri+" "+pool+"/"+name)
	return nil
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
	return modelstest.InsertUser(t, db, strings.Split(email, "@")[0], email, account.Role(role))
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

// After a good run only the newest checkpoint is left on the source; a
// base checkpoint that vanished (a migration) is recorded and replaced by
// a full copy in the same job.
func TestReplicationRunCheckpoints(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newRepEnv(t, db)
		f := &fakeReplicator{checkpoints: []string{"user-own", "allmende-rep-leftover"}}
		e.run(t, f)
		e.clock.Set(e.clock.Now().Add(5 * time.Minute))
		e.run(t, f)
		if len(f.reqs) != 2 || f.reqs[1].FromCheckpoint != f.reqs[0].NewCheckpoint {
			t.Fatalf("requests %+v", f.reqs)
		}
		if want := []string{"user-own", f.reqs[1].NewCheckpoint}; !slices.Equal(f.checkpoints, want) {
			t.Fatalf("checkpoints %v, want %v", f.checkpoints, want)
		}

		f.checkpoints = nil // gone with a migration
		e.clock.Set(e.clock.Now().Add(5 * time.Minute))
		e.run(t, f)
		if len(f.reqs) != 4 || f.reqs[2].FromCheckpoint == "" || f.reqs[3].FromCheckpoint != "" {
			t.Fatalf("want a failed incremental, then a full copy: %+v", f.reqs[2:])
		}
		s := e.status(t)
		if s.Health != replication.HealthGood || len(s.Runs) != 4 || s.Runs[0].Kind != replication.RunFull || !s.Runs[0].Succeeded() ||
			!strings.Contains(s.Runs[1].Error, "is gone") {
			t.Fatalf("after the fallback: %+v", s)
		}
	})
}

// A deleted VM's replica volume is removed by the schedule, then its
// replica row; a new replica host has the old replica removed by a job,
// and the next run is a full copy.
func TestReplicationCleanup(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newRepEnv(t, db)
		ctx := context.Background()
		f := &fakeReplicator{}
		e.run(t, f)
		old := e.status(t)

		// A third host to move the replica to.
		admin := testUser(t, db, "admin2@example.org", "admin")
		hosts := compute.NewHosts(db, modelstest.NewQueue(t, db), func(string) error { return nil })
		c, err := hosts.Add(ctx, admin, compute.HostInput{Name: "c", URI: "qemu+tcp://c/system"})
		if err != nil {
			t.Fatal(err)
		}
		if err := hosts.StoreInventory(ctx, c.ID, compute.HostInventory{CPUs: 8, MemoryBytes: 16 << 30,
			Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: 100 << 30}}}); err != nil {
			t.Fatal(err)
		}
		if err := e.reps.SetReplicaHost(ctx, admin, models.Viewer{UserID: admin.UserID, Admin: true}, e.vm.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = 'replication.remove'"); n != 1 {
			t.Fatalf("%d removal jobs, want 1", n)
		}
		ra := jobargs.ReplicaRemove{VMID: e.vm.ID, HostID: old.ReplicaHostID, Checkpoint: f.checkpoints[0]}
		rw := jobs.NewReplicaRemoveWorker(e.reps, f, e.log)
		if err := rw.Work(ctx, &river.Job[jobargs.ReplicaRemove]{JobRow: &rivertype.JobRow{}, Args: ra}); err != nil {
			t.Fatal(err)
		}
		oldVols := []string{"qemu+tcp://" + old.ReplicaHostName + "/system default/" + replication.StagingVolume(e.vm),
			"qemu+tcp://" + old.ReplicaHostName + "/system default/" + e.vm.DiskVolume()}
		if !slices.Equal(f.deleted, oldVols) || len(f.checkpoints) != 0 {
			t.Fatalf("after the removal: volumes %v, checkpoints %v", f.deleted, f.checkpoints)
		}
		e.run(t, f)
		if r := f.reqs[len(f.reqs)-1]; r.FromCheckpoint != "" || r.Target.URI != "qemu+tcp://c/system" {
			t.Fatalf("run after the change: %+v", r)
		}

		// Removing onto the VM's own host never happens.
		ra.HostID = e.vm.HostID
		if err := rw.Work(ctx, &river.Job[jobargs.ReplicaRemove]{JobRow: &rivertype.JobRow{}, Args: ra}); err != nil {
			t.Fatal(err)
		}
		if len(f.deleted) != 2 {
			t.Fatalf("removed the vm's own disk: %v", f.deleted)
		}

		if err := db.Gorm.Exec("UPDATE vms SET state = 'deleted' WHERE id = ?", e.vm.ID).Error; err != nil {
			t.Fatal(err)
		}
		sw := jobs.NewReplicationScheduleWorker(e.reps, f, e.log)
		for range 2 {
			if err := sw.Work(ctx, &river.Job[jobargs.ReplicationSchedule]{JobRow: &rivertype.JobRow{}}); err != nil {
				t.Fatal(err)
			}
		}
		if len(f.deleted) != 4 || !strings.HasPrefix(f.deleted[2], "qemu+tcp://c/system default/") || f.deleted[2] != f.deleted[3]+"-staging" {
			t.Fatalf("after the vm's deletion: %v", f.deleted)
		}
		if n := modelstest.Count(t, db, "vm_replicas", "vm_id = '"+e.vm.ID+"'"); n != 0 {
			t.Fatalf("replica row of a deleted vm kept")
		}
	})
}

// runJob runs the run worker as attempt attempt of River job id.
func (e *repEnv) runJob(t *testing.T, f *fakeReplicator, id int64, attempt int) {
	t.Helper()
	w := jobs.NewReplicationRunWorker(e.reps, f, e.log)
	job := &river.Job[jobargs.ReplicationRun]{JobRow: &rivertype.JobRow{ID: id, Attempt: attempt, MaxAttempts: 3}, Args: jobargs.ReplicationRun{VMID: e.vm.ID}}
	if err := w.Work(context.Background(), job); err != nil {
		t.Fatal(err)
	}
}

// Once a good copy exists, a run writes into the staging volume and the
// copy moves forward only when the staged ranges are put into it; an
// apply that fails leaves the copy dirty and the next run applies it again
// before anything else.
func TestReplicationStagedRun(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newRepEnv(t, db)
		f := &fakeReplicator{}
		e.run(t, f) // the first copy: nothing to protect, written directly
		if f.reqs[0].Staging != "" || len(f.applied) != 0 {
			t.Fatalf("first copy staged: %+v, %d applies", f.reqs[0], len(f.applied))
		}
		first := e.status(t)

		e.clock.Set(e.clock.Now().Add(5 * time.Minute))
		f.applyErr = errors.New("connection to b lost")
		e.run(t, f)
		if r := f.reqs[1]; r.Staging != replication.StagingVolume(e.vm) || r.Target.Volume != e.vm.DiskVolume() {
			t.Fatalf("second copy: %+v", r)
		}
		if len(f.applied) != 1 || f.applied[0].Staging != replication.StagingVolume(e.vm) || f.applied[0].Volume != e.vm.DiskVolume() {
			t.Fatalf("applies: %+v", f.applied)
		}
		var rep replication.Replica
		if err := db.Gorm.Where("vm_id = ?", e.vm.ID).First(&rep).Error; err != nil {
			t.Fatal(err)
		}
		s := e.status(t)
		if !rep.CopyDirty || rep.ApplyRunID == "" || rep.RunningRunID != "" || !s.LastGoodAt.Equal(*first.LastGoodAt) ||
			s.Failures != 1 || !strings.Contains(s.LastError, "connection to b lost") {
			t.Fatalf("after a failed apply: %+v, %+v", rep, s)
		}

		// The next run applies the same staged copy, copies nothing new
		// first, and then the copy is good as of the staged run's start;
		// it needs only the standby, so it runs even while the VM's host
		// is fenced (the VM stopped there), for a failover to find a good
		// copy.
		f.applyErr = nil
		e.clock.Set(e.clock.Now().Add(time.Minute))
		if err := db.Gorm.Exec("UPDATE hosts SET fenced_at = ?, reachable = FALSE WHERE id = ?", e.clock.Now(), e.vm.HostID).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Gorm.Exec("UPDATE vms SET state = 'stopped' WHERE id = ?", e.vm.ID).Error; err != nil {
			t.Fatal(err)
		}
		if due, err := e.reps.Due(context.Background(), 10); err != nil || len(due) != 1 {
			t.Fatalf("due with the apply pending on a fenced host: %v, %v", due, err)
		}
		e.run(t, f)
		if len(f.applied) != 2 || len(f.reqs) != 2 {
			t.Fatalf("after the retry: %d applies, %d copies", len(f.applied), len(f.reqs))
		}
		var run replication.Run
		if err := db.Gorm.Where("id = ?", rep.ApplyRunID).First(&run).Error; err != nil {
			t.Fatal(err)
		}
		s = e.status(t)
		if !run.Succeeded() || s.State != replication.StateGood || !s.LastGoodAt.Equal(run.StartedAt) || s.Failures != 0 {
			t.Fatalf("after the apply: run %+v, status %+v", run, s)
		}
		if err := db.Gorm.Where("vm_id = ?", e.vm.ID).First(&rep).Error; err != nil {
			t.Fatal(err)
		}
		if rep.CopyDirty || rep.ApplyRunID != "" || rep.LastGoodCheckpoint != run.NewCheckpoint {
			t.Fatalf("replica after the apply: %+v", rep)
		}
		// With nothing to apply, a fenced host's VM is not due.
		e.clock.Set(e.clock.Now().Add(time.Hour))
		if due, err := e.reps.Due(context.Background(), 10); err != nil || len(due) != 0 {
			t.Fatalf("due on a fenced host: %v, %v", due, err)
		}
	})
}

// A run whose worker died (its portal was killed) holds the VM's lease; a
// later attempt of the same job takes the VM over at once and records the
// dead run as interrupted, while another job still waits for the lease.
func TestReplicationLeaseTakeover(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newRepEnv(t, db)
		f := &fakeReplicator{}
		e.run(t, f)
		good := e.status(t).LastGoodAt
		e.clock.Set(e.clock.Now().Add(5 * time.Minute))
		ctx := context.Background()
		dead, err := e.reps.BeginJobRun(ctx, e.vm.ID, 42) // attempt 1 of job 42, then killed
		if err != nil {
			t.Fatal(err)
		}
		e.runJob(t, f, 43, 1) // another job: the lease holds
		if len(f.reqs) != 1 {
			t.Fatalf("a second job copied while the lease was held: %+v", f.reqs)
		}
		if s := e.status(t); !s.Running || s.Health != replication.HealthGood || !s.LastGoodAt.Equal(*good) {
			t.Fatalf("while the dead run holds the lease: %+v", s)
		}
		e.runJob(t, f, 42, 2)
		if len(f.reqs) != 2 || f.reqs[1].Staging == "" {
			t.Fatalf("the next attempt did not copy (staged): %+v", f.reqs)
		}
		var run replication.Run
		if err := db.Gorm.Where("id = ?", dead.RunID).First(&run).Error; err != nil {
			t.Fatal(err)
		}
		if run.FinishedAt == nil || run.Verified || !strings.Contains(run.Error, "interrupted") {
			t.Fatalf("dead run: %+v", run)
		}
		if s := e.status(t); s.Running || s.Health != replication.HealthGood || !s.LastGoodAt.After(*good) {
			t.Fatalf("after the takeover: %+v", s)
		}
	})
}
