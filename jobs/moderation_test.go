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

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"allmende/hypervisor"
	"allmende/jobs"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/moderation"
	"allmende/models/rulebook"
)

// fakeModHV is a host whose libvirt has no cgroup CPU controller: the disk
// limit is kept, the CPU limit refused, as hypervisor.SetThrottle does.
type fakeModHV struct {
	mu       sync.Mutex
	state    hypervisor.DomainState
	throttle hypervisor.Throttle
	sets     int
	calls    []string
}

func (f *fakeModHV) DomainState(context.Context, string, string) (hypervisor.DomainState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, nil
}

func (f *fakeModHV) SuspendDomain(context.Context, string, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.state = append(f.calls, "suspend"), hypervisor.StatePaused
	return nil
}

func (f *fakeModHV) ResumeDomain(context.Context, string, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.state = append(f.calls, "resume"), hypervisor.StateRunning
	return nil
}

func (f *fakeModHV) DestroyDomain(context.Context, string, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.state = append(f.calls, "destroy"), hypervisor.StateShutoff
	return nil
}

// set is a change behind the portal's back (virsh).
func (f *fakeModHV) set(st hypervisor.DomainState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = st
}

func (f *fakeModHV) SetThrottle(_ context.Context, _, _, _ string, t hypervisor.Throttle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets++
	f.throttle = hypervisor.Throttle{DiskBytesSec: t.DiskBytesSec}
	if t.CPUPercent > 0 {
		return hypervisor.ErrCPULimitUnsupported
	}
	return nil
}

func (f *fakeModHV) ReadThrottle(context.Context, string, string, string) (hypervisor.Throttle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.throttle, nil
}

// The enforce job on a host without CPU limits sets the disk limit once
// and says so in the case log; it pauses a locked VM, resumes it when the
// lock ends, and waits while a VM job is at work.
func TestModerationEnforceWorker(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		q := modelstest.NewQueue(t, db)
		clock := models.NewManualClock(time.Now().UTC().Truncate(time.Second))
		vms := compute.NewVMs(db, q, compute.FixedEntitlement{VCPUs: 8, MemoryMiB: 8192, DiskGiB: 100}, clock)
		mod := moderation.New(db, q, clock, nil)
		admin := modelstest.InsertUser(t, db, "admin", "admin@example.org", account.RoleAdmin)
		adminV := models.Viewer{UserID: admin.UserID, Admin: true}
		staff := modelstest.InsertUser(t, db, "mo", "mo@example.org", account.RoleModerator)
		alice := modelstest.InsertUser(t, db, "alice", "alice@example.org", account.RoleMember)
		carol := modelstest.InsertUser(t, db, "carol", "carol@example.org", account.RoleMember)
		hosts := compute.NewHosts(db, q, func(string) error { return nil })
		h, err := hosts.Add(ctx, admin, compute.HostInput{Name: "h1", URI: "qemu+tcp://h1/system"})
		if err != nil {
			t.Fatal(err)
		}
		if err := hosts.StoreInventory(ctx, h.ID, compute.HostInventory{Hostname: "h1", CPUs: 8, MemoryBytes: 8 << 30,
			Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: 100 << 30}}}); err != nil {
			t.Fatal(err)
		}
		plan, err := compute.NewPlans(db).Create(ctx, admin, adminV, compute.PlanInput{Name: "s", VCPUs: 1, MemoryMiB: 512, DiskGiB: 1})
		if err != nil {
			t.Fatal(err)
		}
		img, err := compute.NewImages(db, q).Register(ctx, admin, adminV, compute.ImageInput{Name: "i", HostID: h.ID, Pool: "default",
			Volume: "i.qcow2", Format: "qcow2", VirtualSizeBytes: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		vm, _, err := vms.Create(ctx, alice, models.Viewer{UserID: alice.UserID}, compute.VMInput{Name: "web", PlanID: plan.ID, ImageID: img.ID})
		if err != nil {
			t.Fatal(err)
		}
		db.Gorm.Exec("UPDATE vms SET state = 'running' WHERE id = ?", vm.ID)
		db.Gorm.Exec("UPDATE tasks SET status = 'succeeded' WHERE vm_id = ?", vm.ID)

		hv := &fakeModHV{state: hypervisor.StateRunning}
		w := jobs.NewModerationEnforceWorker(mod, vms, hv, slog.New(slog.NewTextHandler(io.Discard, nil)))
		work := func() error {
			return w.Work(ctx, &river.Job[jobargs.ModerationEnforce]{JobRow: &rivertype.JobRow{}, Args: jobargs.ModerationEnforce{VMID: vm.ID}})
		}
		if _, err := mod.Report(ctx, carol, moderation.ReportInput{TargetKind: moderation.TargetVM, Target: "web", Category: "spam", Evidence: "spam"}); err != nil {
			t.Fatal(err)
		}
		rows, _ := mod.Cases(ctx, staff, moderation.CaseFilter{})
		caseID := rows[0].ID
		if _, err := mod.Sanction(ctx, staff, caseID, moderation.SanctionInput{Kind: rulebook.SanctionThrottle, Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := work(); err != nil {
				t.Fatal(err)
			}
		}
		if hv.sets != 1 || hv.throttle.DiskBytesSec != 1<<20 {
			t.Fatalf("%d SetThrottle calls, limit %+v; want one, 1 MiB/s", hv.sets, hv.throttle)
		}
		d, _ := mod.Case(ctx, staff, caseID)
		if n := logLines(d, "CPU limit: not supported on this host"); n != 1 {
			t.Fatalf("%d case-log lines about the CPU limit, want 1: %+v", n, d.Notes)
		}
		sv, err := mod.Sanction(ctx, staff, caseID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM, Reason: "spam"})
		if err != nil {
			t.Fatal(err)
		}
		if err := work(); err != nil || hv.state != hypervisor.StatePaused {
			t.Fatalf("after the suspension: %v, %s", err, hv.state)
		}
		// A VM job at work: come back later.
		db.Gorm.Exec("UPDATE vms SET state = 'stopping' WHERE id = ?", vm.ID)
		var snooze *river.JobSnoozeError
		if err := work(); !errors.As(err, &snooze) {
			t.Fatalf("transitional VM: %v, want a snooze", err)
		}
		db.Gorm.Exec("UPDATE vms SET state = 'running' WHERE id = ?", vm.ID)
		if err := mod.Lift(ctx, staff, sv.ID, "cleaned"); err != nil {
			t.Fatal(err)
		}
		if err := work(); err != nil || hv.state != hypervisor.StateRunning {
			t.Fatalf("after the lift: %v, %s", err, hv.state)
		}
		if strings.Join(hv.calls, ",") != "suspend,resume" {
			t.Fatalf("calls %v", hv.calls)
		}

		// Stopped by its member, suspended, started behind the portal's
		// back: paused; after the lift it is off again, as the member left
		// it, and stays off on the next run.
		db.Gorm.Exec("UPDATE vms SET state = 'stopped' WHERE id = ?", vm.ID)
		hv.set(hypervisor.StateShutoff)
		sv2, err := mod.Sanction(ctx, staff, caseID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM, Reason: "again"})
		if err != nil {
			t.Fatal(err)
		}
		if err := work(); err != nil || hv.state != hypervisor.StateShutoff {
			t.Fatalf("stopped and suspended: %v, %s", err, hv.state)
		}
		hv.set(hypervisor.StateRunning)
		if err := work(); err != nil || hv.state != hypervisor.StatePaused {
			t.Fatalf("started behind the portal's back: %v, %s", err, hv.state)
		}
		if err := mod.Lift(ctx, staff, sv2.ID, "cleaned"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := work(); err != nil || hv.state != hypervisor.StateShutoff {
				t.Fatalf("after the lift: %v, %s", err, hv.state)
			}
		}
		if got := strings.Join(hv.calls, ","); got != "suspend,resume,suspend,destroy" {
			t.Fatalf("calls %v", got)
		}
		d, _ = mod.Case(ctx, staff, caseID)
		if logLines(d, "switched off, as its member had stopped it") != 1 {
			t.Fatalf("case log %+v", d.Notes)
		}

		// A domain paused by someone else (an admin with virsh) is not
		// the portal's to resume.
		db.Gorm.Exec("UPDATE vms SET state = 'running' WHERE id = ?", vm.ID)
		hv.set(hypervisor.StatePaused)
		if err := work(); err != nil || hv.state != hypervisor.StatePaused {
			t.Fatalf("paused by someone else: %v, %s", err, hv.state)
		}
	})
}

func logLines(d *moderation.CaseDetail, s string) int {
	n := 0
	for _, l := range d.Notes {
		if strings.Contains(l.Body, s) {
			n++
		}
	}
	return n
}
