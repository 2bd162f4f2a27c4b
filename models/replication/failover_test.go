package replication_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/replication"
)

// goodCopy makes one verified run of vm, so its copy is good.
func (e *env) goodCopy(t *testing.T, vmID string) {
	t.Helper()
	ctx := context.Background()
	spec, err := e.reps.BeginRun(ctx, vmID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{BytesSent: 1 << 20, Duration: time.Second,
		Checkpoint: spec.NewCheckpoint, Verified: true}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) vm(t *testing.T, id string) compute.VM {
	t.Helper()
	var vm compute.VM
	if err := e.db.Gorm.First(&vm, "id = ?", id).Error; err != nil {
		t.Fatal(err)
	}
	return vm
}

func confirm(name string) replication.FailoverInput {
	return replication.FailoverInput{Confirmed: true, HostName: name, Method: replication.FenceConfirmed}
}

func TestFailover(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		a := e.addHost(t, "a", 16)
		b := e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		good := e.mustCreate(t, m, mv, "good")
		bare := e.mustCreate(t, m, mv, "bare")
		if good.HostID != a.ID || bare.HostID != a.ID {
			// Placement picked b for one: move both to a for the test.
			if err := db.Gorm.Exec("UPDATE vms SET host_id = ?", a.ID).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Gorm.Exec("UPDATE vm_replicas SET replica_host_id = ?", b.ID).Error; err != nil {
				t.Fatal(err)
			}
		}
		e.advance(time.Hour)
		e.goodCopy(t, good.ID)

		// A member may not; a host that answers is refused.
		_, err := e.reps.Failover(ctx, m, mv, a.ID, confirm("a"))
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, err = e.reps.Failover(ctx, e.admin, e.adminV, a.ID, confirm("a"))
		modelstest.WantCode(t, err, http.StatusConflict)
		if n := modelstest.Count(t, db, "river_job", "kind = ?", "replication.failover"); n != 0 {
			t.Fatalf("jobs after a refusal: %d", n)
		}

		if err := e.hosts.StoreUnreachable(ctx, a.ID, errors.New("connection refused")); err != nil {
			t.Fatal(err)
		}
		// Without the checkbox and the typed name: nothing.
		_, err = e.reps.Failover(ctx, e.admin, e.adminV, a.ID, replication.FailoverInput{HostName: "b", Method: replication.FenceConfirmed})
		if modelstest.FieldErr(t, err, "confirm") == "" || modelstest.FieldErr(t, err, "host_name") == "" {
			t.Fatalf("want field errors, got %v", err)
		}

		res, err := e.reps.Failover(ctx, e.admin, e.adminV, a.ID, confirm("a"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Started) != 1 || res.Started[0].VMID != good.ID || len(res.NotStarted) != 1 || res.NotStarted[0].VMID != bare.ID {
			t.Fatalf("started %+v, not started %+v", res.Started, res.NotStarted)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = ?", "replication.failover"); n != 1 {
			t.Fatalf("failover jobs: %d, want 1", n)
		}
		if n := modelstest.Count(t, db, "tasks", "vm_id = ? AND kind = ? AND status = ?", good.ID, "failover", "queued"); n != 1 {
			t.Fatalf("failover tasks: %d", n)
		}
		if vm := e.vm(t, good.ID); vm.State != compute.VMStarting || vm.HostID != a.ID {
			t.Fatalf("moving vm: %s on %s", vm.State, vm.HostID)
		}
		if vm := e.vm(t, bare.ID); vm.State != compute.VMRunning || vm.StateReason != replication.NoGoodCopyReason {
			t.Fatalf("vm without a copy: %s %q", vm.State, vm.StateReason)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ? AND actor_email = ?", "host.fenced", "admin@example.org"); n != 1 {
			t.Fatalf("fencing audit entries by the admin: %d", n)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ? AND target_id = ?", "vm.failover_skipped", bare.ID); n != 1 {
			t.Fatalf("skip audit entries: %d", n)
		}
		h, _ := e.hosts.Get(ctx, a.ID)
		if !h.Fenced() || h.FencedBy != "admin@example.org" || h.FenceMethod != replication.FenceConfirmed || h.FailoverEpoch != 1 {
			t.Fatalf("host: %+v", h)
		}
		// No replication run while a failover holds the VM.
		if _, err := e.reps.BeginRun(ctx, good.ID); !errors.Is(err, replication.ErrNotDue) {
			t.Fatalf("run during failover: %v", err)
		}

		// The job's record: the VM moves to b on a new disk, a becomes its
		// replica host with no copy.
		p, err := e.reps.FailoverOverview(ctx, e.adminV, a.ID)
		if err != nil || len(p.Failovers) != 1 {
			t.Fatalf("overview: %v %+v", err, p)
		}
		f := p.Failovers[0]
		for range 2 { // idempotent
			if err := e.reps.CompleteFailover(ctx, f.ID, compute.VMRunning); err != nil {
				t.Fatal(err)
			}
		}
		vm := e.vm(t, good.ID)
		if vm.HostID != b.ID || vm.State != compute.VMRunning || vm.DiskGeneration != 1 || vm.DiskVolume() != f.NewVolume {
			t.Fatalf("moved vm: %+v", vm)
		}
		s := e.status(t, good.ID)
		if s.ReplicaHostID != a.ID || s.LastGoodAt != nil || s.State != replication.StateNone {
			t.Fatalf("replica after failover: %+v", s)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ? AND target_id = ?", "vm.failed_over", good.ID); n != 1 {
			t.Fatalf("failed_over audit entries: %d", n)
		}

		// a answers again: its stale copy is listed, removed, and the
		// fencing ends; copies to a are due at once.
		stale, pending, err := e.reps.Stale(ctx, a.ID)
		if err != nil || pending != 0 || len(stale) != 1 || stale[0].Volumes[0] != f.OldVolume {
			t.Fatalf("stale: %v %d %+v", err, pending, stale)
		}
		if ok, err := e.reps.Unfence(ctx, a.ID); err != nil || ok {
			t.Fatalf("unfenced with a stale copy left: %v %v", ok, err)
		}
		if err := e.reps.StaleRemoved(ctx, stale[0].FailoverID, false); err != nil {
			t.Fatal(err)
		}
		if ok, err := e.reps.Unfence(ctx, a.ID); err != nil || !ok {
			t.Fatalf("not unfenced: %v %v", ok, err)
		}
		if h, _ := e.hosts.Get(ctx, a.ID); h.Fenced() {
			t.Fatal("still fenced")
		}
		due, err := e.reps.Due(ctx, 10)
		if err != nil || !slices.Contains(due, good.ID) {
			t.Fatalf("due after the host is back: %v %v", due, err)
		}
	})
}

// A copy a failed run may have written into is no copy to start from; one
// that failed before writing is.
func TestFailoverDirtyCopy(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		a := e.addHost(t, "a", 16)
		e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "v")
		if vm.HostID != a.ID {
			a, _ = e.hosts.Get(ctx, vm.HostID)
		}
		e.advance(time.Hour)
		e.goodCopy(t, vm.ID)
		e.advance(time.Hour)
		spec, err := e.reps.BeginRun(ctx, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{Err: errors.New("dial: refused"), CopyUntouched: true}); err != nil {
			t.Fatal(err)
		}
		p, err := e.reps.FailoverOverview(ctx, e.adminV, a.ID)
		if err != nil || len(p.VMs) != 1 || !p.VMs[0].Ready {
			t.Fatalf("untouched copy not ready: %v %+v", err, p.VMs)
		}
		e.advance(time.Hour)
		spec, err = e.reps.BeginRun(ctx, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{Err: errors.New("upload: broken pipe")}); err != nil {
			t.Fatal(err)
		}
		p, err = e.reps.FailoverOverview(ctx, e.adminV, a.ID)
		if err != nil || len(p.VMs) != 1 || p.VMs[0].Ready || p.VMs[0].Reason != replication.NoGoodCopyReason {
			t.Fatalf("dirty copy: %v %+v", err, p.VMs)
		}
	})
}

// A staged run leaves the good copy a failover may start from until its
// copy is recorded complete; while that is being put into the copy, the
// VM waits (with the reason), and once applied the newer copy is good.
func TestFailoverStagedCopy(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.addHost(t, "a", 16)
		e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "v")
		e.advance(time.Hour)
		e.goodCopy(t, vm.ID)
		e.advance(time.Hour)
		spec, err := e.reps.BeginRun(ctx, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if spec.Staging != replication.StagingVolume(vm) || spec.Apply != nil {
			t.Fatalf("run over a good copy: %+v", spec)
		}
		ready := func(what string, want bool, reason string) {
			t.Helper()
			p, err := e.reps.FailoverOverview(ctx, e.adminV, vm.HostID)
			if err != nil || len(p.VMs) != 1 || p.VMs[0].Ready != want || !strings.Contains(p.VMs[0].Reason, reason) {
				t.Fatalf("%s: %v %+v", what, err, p.VMs)
			}
		}
		ready("while the run sends", false, "a copy is being written")
		st := replication.Staged{Size: 10 << 30, Ranges: [][2]uint64{{0, 65536}, {1 << 20, 4096}}}
		if err := e.reps.RecordStaged(ctx, spec.RunID, st, replication.Outcome{BytesSent: 69632, Extents: 2, Verified: true}); err != nil {
			t.Fatal(err)
		}
		if err := e.reps.FinishApply(ctx, spec.RunID, 0, errors.New("connection reset")); err != nil {
			t.Fatal(err)
		}
		ready("apply pending", false, "being put in place")
		// The next run is the rest of that one: the same ranges.
		e.advance(time.Hour)
		again, err := e.reps.BeginRun(ctx, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.RunID != spec.RunID || again.Apply == nil || len(again.Apply.Ranges) != 2 || again.Apply.Ranges[1] != st.Ranges[1] {
			t.Fatalf("rest of the run: %+v", again)
		}
		if err := e.reps.FinishApply(ctx, again.RunID, time.Second, nil); err != nil {
			t.Fatal(err)
		}
		ready("applied", true, "")
		if s := e.status(t, vm.ID); s.State != replication.StateGood || !s.LastGoodAt.Equal(spec.StartedAt) || s.BytesLast != 69632 {
			t.Fatalf("after the apply: %+v", s)
		}
	})
}
