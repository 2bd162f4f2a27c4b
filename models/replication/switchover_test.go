package replication_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/replication"
)

func TestSwitchoverAndDrain(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		a := e.addHost(t, "a", 16)
		b := e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		good := e.mustCreate(t, m, mv, "good")
		bare := e.mustCreate(t, m, mv, "bare")
		off := e.mustCreate(t, m, mv, "off")
		exec := func(q string, args ...any) {
			t.Helper()
			if err := db.Gorm.Exec(q, args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		exec("UPDATE vms SET host_id = ?, state = ?", a.ID, compute.VMRunning)
		exec("UPDATE vms SET state = ? WHERE id = ?", compute.VMStopped, off.ID)
		exec("UPDATE tasks SET status = ?", compute.TaskSucceeded) // the creates are done
		exec("UPDATE vm_replicas SET replica_host_id = ?", b.ID)
		e.advance(time.Hour)
		e.goodCopy(t, good.ID)

		// A member may not; no good copy is a conflict with the reason.
		_, err := e.reps.Switchover(ctx, m, mv, good.ID)
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, err = e.reps.Switchover(ctx, e.admin, e.adminV, bare.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		if de, _ := models.AsError(err); !strings.Contains(de.Safe, "no good copy") {
			t.Fatalf("reason: %v", err)
		}
		// The standby not answering: a conflict.
		if err := e.hosts.StoreUnreachable(ctx, b.ID, errors.New("connection refused")); err != nil {
			t.Fatal(err)
		}
		_, err = e.reps.Switchover(ctx, e.admin, e.adminV, good.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		exec("UPDATE hosts SET reachable = ? WHERE id = ?", true, b.ID)

		// Drain: good moves, bare is refused, off is left alone.
		started, refused, err := e.reps.Drain(ctx, e.admin, e.adminV, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(started) != 1 || started[0].VMID != good.ID || started[0].To != "b" {
			t.Fatalf("started %+v", started)
		}
		if len(refused) != 1 || refused[0].VMID != bare.ID {
			t.Fatalf("refused %+v", refused)
		}
		if n := modelstest.Count(t, db, "river_job", "kind = ?", "replication.switchover"); n != 1 {
			t.Fatalf("switchover jobs: %d", n)
		}
		if vm := e.vm(t, good.ID); vm.State != compute.VMStarting {
			t.Fatalf("vm state %s", vm.State)
		}
		// A task is open: a second request is a conflict, and no run starts.
		_, err = e.reps.Switchover(ctx, e.admin, e.adminV, good.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		e.advance(10 * time.Minute) // past the interval, within the lease
		if _, err := e.reps.BeginRun(ctx, good.ID); !errors.Is(err, replication.ErrNotDue) {
			t.Fatalf("run during a switchover: %v", err)
		}

		// The job records the move: b runs it, a is the standby (full copy next).
		vm := e.vm(t, good.ID)
		args := jobargs.ReplicationSwitchover{VMTask: jobargs.VMTask{VMID: good.ID, TaskID: started[0].TaskID},
			FromHostID: a.ID, ToHostID: b.ID, NewVolume: compute.DiskVolumeOf(vm.DomainName(), vm.DiskGeneration+1),
			DiskGeneration: vm.DiskGeneration + 1}
		for range 2 { // idempotent
			if err := e.reps.CompleteSwitchover(ctx, args, 900*time.Millisecond, "cold"); err != nil {
				t.Fatal(err)
			}
		}
		vm = e.vm(t, good.ID)
		if vm.HostID != b.ID || vm.State != compute.VMRunning || vm.DiskGeneration != args.DiskGeneration {
			t.Fatalf("after the move: %+v", vm)
		}
		var rep replication.Replica
		if err := db.Gorm.Where("vm_id = ?", good.ID).First(&rep).Error; err != nil {
			t.Fatal(err)
		}
		if rep.ReplicaHostID != a.ID || rep.LastGoodAt != nil || rep.RunningRunID != "" {
			t.Fatalf("replica after the move: %+v", rep)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ?", "vm.switched_over"); n != 1 {
			t.Fatalf("audit entries: %d", n)
		}
	})
}

func TestSwitchoverAbortKeepsTheVM(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		a := e.addHost(t, "a", 16)
		b := e.addHost(t, "b", 16)
		m, mv := e.member(t, "m@example.org")
		vm := e.mustCreate(t, m, mv, "vm")
		if err := db.Gorm.Exec("UPDATE vms SET host_id = ?, state = ?", a.ID, compute.VMRunning).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Gorm.Exec("UPDATE vm_replicas SET replica_host_id = ?", b.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Gorm.Exec("UPDATE tasks SET status = ?", compute.TaskSucceeded).Error; err != nil {
			t.Fatal(err)
		}
		e.advance(time.Hour)
		e.goodCopy(t, vm.ID)
		st, err := e.reps.Switchover(ctx, e.admin, e.adminV, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.reps.AbortSwitchover(ctx, vm.ID, st.TaskID, true); err != nil {
			t.Fatal(err)
		}
		got := e.vm(t, vm.ID)
		if got.State != compute.VMRunning || got.HostID != a.ID {
			t.Fatalf("after abort: %+v", got)
		}
		var rep replication.Replica
		if err := db.Gorm.Where("vm_id = ?", vm.ID).First(&rep).Error; err != nil {
			t.Fatal(err)
		}
		if rep.RunningRunID != "" || !rep.CopyDirty {
			t.Fatalf("replica after abort: %+v", rep)
		}
	})
}
