package replication_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/replication"
)

// A VM placed while two hosts exist gets the other one as its replica
// host, in the create transaction, and its first run is due at once.
func TestPlacementAssignsReplicaOnOtherHost(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		a := e.addHost(t, "a", 16)
		b := e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "web")
		s := e.status(t, vm.ID)
		want := map[string]string{a.ID: b.ID, b.ID: a.ID}[vm.HostID]
		if !s.Replicated || s.ReplicaHostID != want || s.State != replication.StateNone || s.Health != replication.HealthSeeding {
			t.Fatalf("status: %+v", s)
		}
		if s.Interval != 300*time.Second {
			t.Errorf("interval %s, want the rule's 300 s", s.Interval)
		}
		due, err := e.reps.Due(context.Background(), 10)
		if err != nil || len(due) != 1 || due[0] != vm.ID {
			t.Fatalf("due: %v %v", due, err)
		}
	})
}

// With a single host a VM is not replicated; once a second host is
// there, the schedule assigns it one.
func TestSingleHostThenAssignMissing(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.addHost(t, "a", 16)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "web")
		if s := e.status(t, vm.ID); s.Replicated || s.Health != replication.HealthNone {
			t.Fatalf("single host: %+v", s)
		}
		b := e.addHost(t, "b", 16)
		n, err := e.reps.AssignMissing(ctx)
		if err != nil || n != 1 {
			t.Fatalf("assign: %d %v", n, err)
		}
		if s := e.status(t, vm.ID); s.ReplicaHostID != b.ID {
			t.Fatalf("replica host %s, want b", s.ReplicaHostID)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'replication.assign' AND target_id = ?", vm.ID); n != 1 {
			t.Errorf("%d audit entries", n)
		}
		if n, _ := e.reps.AssignMissing(ctx); n != 0 {
			t.Errorf("second assign: %d", n)
		}
	})
}

// N+1: host b (2 GiB) can take over two 1 GiB VMs of host a, not three;
// and b may not take a VM itself while it must keep room for a's.
func TestNPlusOneRefusesPlacement(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		a := e.addHost(t, "a", 16)
		b := e.addHost(t, "b", 2)
		m, mv := e.member(t, "m@example.org")
		for _, name := range []string{"one", "two"} {
			if vm := e.mustCreate(t, m, mv, name); vm.HostID != a.ID {
				t.Fatalf("%s on %s, want a (most room)", name, vm.HostID)
			}
		}
		_, err := e.create(t, m, mv, "three")
		de := modelstest.WantCode(t, err, http.StatusServiceUnavailable)
		if de.Fields["plan_id"] == "" {
			t.Errorf("no field message: %+v", de)
		}
		if n := modelstest.Count(t, db, "vms", "name = 'three'"); n != 0 {
			t.Errorf("refused vm written")
		}
		caps, err := e.reps.Capacity(ctx, e.adminV)
		if err != nil {
			t.Fatal(err)
		}
		if len(caps) != 2 || caps[0].HostID != a.ID || !caps[0].CanAbsorb || caps[0].VMs != 2 ||
			len(caps[0].Partners) != 1 || caps[0].Partners[0].HostID != b.ID || caps[0].Partners[0].MemoryMiB != 2048 {
			t.Fatalf("capacity: %+v", caps)
		}
		// An admin shrinks b (a new inventory): a's VMs no longer fit there.
		if err := e.hosts.StoreInventory(ctx, b.ID, compute1GiB(b.Name)); err != nil {
			t.Fatal(err)
		}
		caps, _ = e.reps.Capacity(ctx, e.adminV)
		if caps[0].CanAbsorb || caps[0].Partners[0].CanAbsorb {
			t.Errorf("a's partner cannot absorb 2 GiB in 1 GiB: %+v", caps[0])
		}
		if _, err := e.reps.Capacity(ctx, models.Viewer{UserID: m.UserID}); err == nil {
			t.Error("a member read the capacity table")
		}
	})
}

// A run: full first, then incremental from the last good checkpoint; a
// failed run keeps the last good copy, backs off 30 s, 1 m, capped at the
// interval, and the next success catches up.
func TestRunsBackoffAndLastGood(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.addHost(t, "a", 16)
		e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "web")

		spec, err := e.reps.BeginRun(ctx, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if spec.Kind != replication.RunFull || spec.FromCheckpoint != "" || spec.NewCheckpoint != replication.CheckpointName(spec.RunID) ||
			spec.Disk != "vda" || spec.TargetVolume != vm.DiskVolume() || spec.TargetPool != "default" || spec.Domain != vm.DomainName() {
			t.Fatalf("first spec: %+v", spec)
		}
		if s := e.status(t, vm.ID); s.State != replication.StateSeeding || !s.Running {
			t.Errorf("while seeding: %+v", s)
		}
		// One run at a time: the lease refuses a second.
		if _, err := e.reps.BeginRun(ctx, vm.ID); !errors.Is(err, replication.ErrNotDue) {
			t.Fatalf("second begin: %v", err)
		}
		if due, _ := e.reps.Due(ctx, 10); len(due) != 0 {
			t.Errorf("due while running: %v", due)
		}
		first := spec.StartedAt
		e.advance(20 * time.Second)
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{BytesSent: 2 << 30, Extents: 7, Duration: 20 * time.Second,
			Checkpoint: spec.NewCheckpoint, Verified: true}); err != nil {
			t.Fatal(err)
		}
		s := e.status(t, vm.ID)
		if s.State != replication.StateGood || s.Health != replication.HealthGood || s.LastGoodAt == nil || !s.LastGoodAt.Equal(first) ||
			s.BytesLast != 2<<30 || s.Running || s.NextRunAt == nil || !s.NextRunAt.Equal(first.Add(300*time.Second)) {
			t.Fatalf("after success: %+v", s)
		}
		if s.Lag != 20*time.Second {
			t.Errorf("lag %s, want 20s (the copy holds the run's start)", s.Lag)
		}
		goodCP := spec.NewCheckpoint
		if _, err := e.reps.BeginRun(ctx, vm.ID); !errors.Is(err, replication.ErrNotDue) {
			t.Fatalf("begin before due: %v", err)
		}

		e.advance(280 * time.Second)
		wantBackoff := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute}
		for i, wait := range wantBackoff {
			spec, err = e.reps.BeginRun(ctx, vm.ID)
			if err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
			if spec.Kind != replication.RunIncremental || spec.FromCheckpoint != goodCP {
				t.Fatalf("retry %d catches up from %q: %+v", i, goodCP, spec)
			}
			if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{BytesSent: 100, Err: errors.New("connection to b lost")}); err != nil {
				t.Fatal(err)
			}
			s = e.status(t, vm.ID)
			if s.State != replication.StateFailed || s.Health != replication.HealthFailing || s.Failures != i+1 ||
				s.LastError != "connection to b lost" || !s.LastGoodAt.Equal(first) || !s.NextRunAt.Equal(e.clock.Now().Add(wait)) {
				t.Fatalf("failure %d: %+v", i, s)
			}
			e.advance(wait)
		}
		// An unverified copy is a failure too.
		spec, _ = e.reps.BeginRun(ctx, vm.ID)
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{Checkpoint: spec.NewCheckpoint}); err != nil {
			t.Fatal(err)
		}
		if s = e.status(t, vm.ID); s.Failures != 4 || s.LastError != "the copy could not be verified" {
			t.Fatalf("unverified: %+v", s)
		}
		e.advance(4 * time.Minute)
		spec, _ = e.reps.BeginRun(ctx, vm.ID)
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{BytesSent: 4096, Checkpoint: spec.NewCheckpoint, Verified: true}); err != nil {
			t.Fatal(err)
		}
		s = e.status(t, vm.ID)
		if s.Health != replication.HealthGood || s.Failures != 0 || s.LastError != "" || !s.LastGoodAt.Equal(spec.StartedAt) {
			t.Fatalf("caught up: %+v", s)
		}
		// After three failures in a row the checkpoint may be the trouble:
		// the runs since copied the whole disk.
		if len(s.Runs) != 5 || !s.Runs[0].Succeeded() || s.Runs[1].Succeeded() || s.Runs[0].Kind != replication.RunFull || s.Runs[2].Kind != replication.RunIncremental {
			t.Fatalf("runs: %+v", s.Runs)
		}
		// Finishing again changes nothing.
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{Err: errors.New("late")}); err != nil {
			t.Fatal(err)
		}
		if s2 := e.status(t, vm.ID); s2.Failures != 0 {
			t.Errorf("second finish counted: %+v", s2)
		}
	})
}

// Backoff never waits longer than the interval; a plan's own interval
// replaces the rule's.
func TestBackoffCappedAtPlanInterval(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.addHost(t, "a", 16)
		e.addHost(t, "b", 16)
		sixty := int64(60)
		if err := e.reps.SetPlanInterval(ctx, e.admin, e.adminV, e.plan.ID, &sixty); err != nil {
			t.Fatal(err)
		}
		low := int64(29)
		err := e.reps.SetPlanInterval(ctx, e.admin, e.adminV, e.plan.ID, &low)
		if modelstest.FieldErr(t, err, "interval_seconds") == "" {
			t.Fatal("29 s accepted")
		}
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "web")
		if s := e.status(t, vm.ID); s.Interval != time.Minute {
			t.Fatalf("interval %s", s.Interval)
		}
		for i, wait := range []time.Duration{30 * time.Second, time.Minute, time.Minute} {
			spec, err := e.reps.BeginRun(ctx, vm.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{Err: errors.New("no")}); err != nil {
				t.Fatal(err)
			}
			if s := e.status(t, vm.ID); !s.NextRunAt.Equal(e.clock.Now().Add(wait)) {
				t.Fatalf("failure %d: next %s, want +%s", i, s.NextRunAt, wait)
			}
			e.advance(wait)
		}
	})
}

// Lag beyond twice the interval shows as lagging, is marked once with an
// audit entry, and clears when a copy succeeds.
func TestLagging(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.addHost(t, "a", 16)
		e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "web")
		spec, _ := e.reps.BeginRun(ctx, vm.ID)
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{Checkpoint: spec.NewCheckpoint, Verified: true}); err != nil {
			t.Fatal(err)
		}
		e.advance(601 * time.Second)
		if s := e.status(t, vm.ID); s.Health != replication.HealthLagging || !s.Lagging() {
			t.Fatalf("after 601 s: %+v", s)
		}
		lagging, err := e.reps.List(ctx, e.adminV, replication.FilterLagging)
		if err != nil || len(lagging) != 1 {
			t.Fatalf("lagging list: %v %v", lagging, err)
		}
		ch, err := e.reps.CheckLag(ctx)
		if err != nil || len(ch) != 1 || !ch[0].Lagging {
			t.Fatalf("check: %+v %v", ch, err)
		}
		if ch, _ := e.reps.CheckLag(ctx); len(ch) != 0 {
			t.Errorf("marked twice: %+v", ch)
		}
		spec, _ = e.reps.BeginRun(ctx, vm.ID)
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{Checkpoint: spec.NewCheckpoint, Verified: true}); err != nil {
			t.Fatal(err)
		}
		if ch, _ := e.reps.CheckLag(ctx); len(ch) != 1 || ch[0].Lagging {
			t.Errorf("recovery: %+v", ch)
		}
		if n := modelstest.Count(t, db, "audit_events", "action IN ('replication.lagging', 'replication.recovered')"); n != 2 {
			t.Errorf("%d lag audit entries", n)
		}
	})
}

// A member sees their own VM's replication, never another's.
func TestMemberSeesOnlyOwn(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.addHost(t, "a", 16)
		e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		_, ov := e.member(t, "o@example.org")
		vm := e.mustCreate(t, m, mv, "web")
		if _, err := e.reps.Get(ctx, mv, vm.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.reps.Get(ctx, ov, vm.ID)
		modelstest.WantCode(t, err, http.StatusNotFound)
		_, err = e.reps.List(ctx, ov, replication.FilterAll)
		modelstest.WantCode(t, err, http.StatusForbidden)
	})
}

// An admin's change of replica host is checked (another, existing,
// reachable host) and starts the copy over with a full run.
func TestSetReplicaHost(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.addHost(t, "a", 16)
		e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "web")
		spec, _ := e.reps.BeginRun(ctx, vm.ID)
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{Checkpoint: spec.NewCheckpoint, Verified: true}); err != nil {
			t.Fatal(err)
		}
		c := e.addHost(t, "c", 16)
		audits := modelstest.Count(t, db, "audit_events", "")
		for _, bad := range []string{vm.HostID, "no-such-host", ""} {
			err := e.reps.SetReplicaHost(ctx, e.admin, e.adminV, vm.ID, bad)
			if modelstest.FieldErr(t, err, "replica_host_id") == "" {
				t.Fatalf("%q accepted", bad)
			}
		}
		err := e.reps.SetReplicaHost(ctx, m, mv, vm.ID, c.ID)
		modelstest.WantCode(t, err, http.StatusForbidden)
		if n := modelstest.Count(t, db, "audit_events", ""); n != audits {
			t.Errorf("refused changes wrote %d audit entries", n-audits)
		}
		if s := e.status(t, vm.ID); s.Health != replication.HealthGood {
			t.Fatalf("refused change touched the replica: %+v", s)
		}
		if err := e.reps.SetReplicaHost(ctx, e.admin, e.adminV, vm.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		s := e.status(t, vm.ID)
		if s.ReplicaHostID != c.ID || s.LastGoodAt != nil || s.State != replication.StateNone {
			t.Fatalf("after change: %+v", s)
		}
		spec, err = e.reps.BeginRun(ctx, vm.ID)
		if err != nil || spec.Kind != replication.RunFull || spec.TargetHostID != c.ID {
			t.Fatalf("next run: %+v %v", spec, err)
		}
	})
}

// A VM that is not running gets no runs (a pull-mode backup needs a
// running guest): it is not due, a run queued before it stopped does not
// begin, its last good copy stays and its status says it is paused, not
// lagging. Once it runs again its overdue run is due at once.
func TestStoppedVMIsPaused(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.addHost(t, "a", 16)
		e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "web")
		setState := func(state string) {
			t.Helper()
			if err := db.Gorm.Exec("UPDATE vms SET state = ? WHERE id = ?", state, vm.ID).Error; err != nil {
				t.Fatal(err)
			}
		}

		spec, err := e.reps.BeginRun(ctx, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{Checkpoint: spec.NewCheckpoint, Verified: true}); err != nil {
			t.Fatal(err)
		}
		good := e.status(t, vm.ID).LastGoodAt

		setState("stopped")
		e.advance(time.Hour) // far past the next run and twice the interval
		if due, err := e.reps.Due(ctx, 10); err != nil || len(due) != 0 {
			t.Fatalf("due while stopped: %v %v", due, err)
		}
		if n, err := e.reps.EnqueueDue(ctx); err != nil || n != 0 {
			t.Fatalf("enqueued %d while stopped (%v)", n, err)
		}
		if _, err := e.reps.BeginRun(ctx, vm.ID); !errors.Is(err, replication.ErrNotDue) {
			t.Fatalf("begin while stopped: %v", err)
		}
		s := e.status(t, vm.ID)
		if !s.Paused || s.Health != replication.HealthPaused || s.Lagging() || s.Running || s.Failures != 0 ||
			s.State != replication.StateGood || s.LastGoodAt == nil || !s.LastGoodAt.Equal(*good) {
			t.Fatalf("while stopped: %+v", s)
		}
		if changes, err := e.reps.CheckLag(ctx); err != nil || len(changes) != 0 {
			t.Errorf("lag alerts while stopped: %+v %v", changes, err)
		}

		setState("running")
		if due, err := e.reps.Due(ctx, 10); err != nil || len(due) != 1 || due[0] != vm.ID {
			t.Fatalf("due once running again: %v %v", due, err)
		}
		if s := e.status(t, vm.ID); s.Paused || s.Health != replication.HealthLagging {
			t.Errorf("running again, an hour behind: %+v", s)
		}
		// A VM still being built is not due either, but not "paused".
		setState("provisioning")
		if due, err := e.reps.Due(ctx, 10); err != nil || len(due) != 0 {
			t.Fatalf("due while provisioning: %v %v", due, err)
		}
		if s := e.status(t, vm.ID); s.Paused || s.Health == replication.HealthPaused {
			t.Errorf("provisioning: %+v", s)
		}
	})
}

// N+1 holds on a resize too: a VM may not grow beyond what its standby
// could take over; within it, it may.
func TestNPlusOneRefusesResize(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		a := e.addHost(t, "a", 16)
		b := e.addHost(t, "b", 2)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "one")
		if vm.HostID != a.ID || e.status(t, vm.ID).ReplicaHostID != b.ID {
			t.Fatalf("vm on %s, standby %s; want a and b", vm.HostID, e.status(t, vm.ID).ReplicaHostID)
		}
		if err := db.Gorm.Exec("UPDATE vms SET state = 'stopped' WHERE id = ?", vm.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Gorm.Exec("UPDATE tasks SET status = 'succeeded' WHERE vm_id = ?", vm.ID).Error; err != nil {
			t.Fatal(err)
		}
		plan := func(name string, memMiB int) *compute.Plan {
			p, err := e.plans.Create(ctx, e.admin, e.adminV, compute.PlanInput{Name: name, VCPUs: 1, MemoryMiB: memMiB, DiskGiB: 10})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		// a has room for 3 GiB, b (2 GiB) could not take it over.
		_, err := e.vms.Resize(ctx, m, mv, vm.ID, plan("large", 3072).ID)
		de := modelstest.WantCode(t, err, http.StatusServiceUnavailable)
		if !strings.Contains(de.Error(), "standby") || !strings.Contains(de.Error(), "b") {
			t.Errorf("refusal: %v", de)
		}
		var planID string
		if err := db.Gorm.Table("vms").Where("id = ?", vm.ID).Pluck("plan_id", &planID).Error; err != nil || planID != e.plan.ID {
			t.Fatalf("plan after the refusal: %s, %v", planID, err)
		}
		if _, err := e.vms.Resize(ctx, m, mv, vm.ID, plan("medium", 2048).ID); err != nil {
			t.Fatalf("resize within what b can take over: %v", err)
		}
	})
}
