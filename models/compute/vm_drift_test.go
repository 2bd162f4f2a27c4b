package compute_test

import (
	"context"
	"net/http"
	"testing"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

func TestRecordDrift(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		running := e.create(t, ada, adaV, "running")
		stopped := e.create(t, ada, adaV, "stopped")
		gone := e.create(t, ada, adaV, "gone")
		busy := e.create(t, ada, adaV, "busy") // provisioning: a job works on it
		e.force(t, running.ID, compute.VMRunning)
		e.force(t, stopped.ID, compute.VMStopped)
		e.force(t, gone.ID, compute.VMRunning)

		exp, err := e.vms.Expected(ctx, e.host.ID)
		if err != nil || len(exp) != 4 {
			t.Fatalf("expected = %v, %v", exp, err)
		}
		found := []compute.ObservedDomain{
			{Name: "allmende-" + running.ID, Running: true},
			{Name: "allmende-" + stopped.ID, Running: true}, // mismatch (a running one stopped is restarted: TestAutoRestart)
			{Name: "allmende-0000-stray", Running: true},    // orphan
			{Name: "someone-elses-vm", Running: true},       // not ours: ignored
		}
		if err := e.vms.RecordDrift(ctx, e.host.ID, found); err != nil {
			t.Fatal(err)
		}
		if err := e.vms.RecordDrift(ctx, e.host.ID, found); err != nil { // idempotent
			t.Fatal(err)
		}
		g, _ := e.vms.Get(ctx, adaV, gone.ID)
		if g.State != compute.VMMissing || g.StateReason != "the virtual machine disappeared from its host" {
			t.Errorf("vanished vm: %s (%s)", g.State, g.StateReason)
		}
		if s := e.state(t, busy.ID); s != compute.VMProvisioning {
			t.Errorf("vm at work became %s", s)
		}
		if s := e.state(t, stopped.ID); s != compute.VMStopped {
			t.Errorf("mismatched vm's state changed to %s", s)
		}
		o, err := e.vms.Drift(ctx, e.adminV)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]string{}
		for _, r := range o.Reports {
			kinds[r.DomainName] = r.Kind
		}
		if len(o.Reports) != 2 || kinds["allmende-"+stopped.ID] != compute.DriftMismatch || kinds["allmende-0000-stray"] != compute.DriftOrphan {
			t.Errorf("reports = %+v", o.Reports)
		}
		if len(o.Missing) != 1 || o.Missing[0].ID != gone.ID {
			t.Errorf("missing = %+v", o.Missing)
		}
		_, err = e.vms.Drift(ctx, adaV)
		modelstest.WantCode(t, err, http.StatusForbidden)

		// Once libvirt agrees and the stray domain is gone, the reports
		// are resolved but kept.
		found = []compute.ObservedDomain{{Name: "allmende-" + running.ID, Running: true}, {Name: "allmende-" + stopped.ID}}
		if err := e.vms.RecordDrift(ctx, e.host.ID, found); err != nil {
			t.Fatal(err)
		}
		if o, _ := e.vms.Drift(ctx, e.adminV); len(o.Reports) != 0 {
			t.Errorf("open reports = %+v", o.Reports)
		}
		if n := modelstest.Count(t, db, "drift_reports", "resolved_at IS NOT NULL"); n != 2 {
			t.Errorf("resolved reports = %d, want 2", n)
		}
		// The missing VM can be provisioned again.
		if _, err := e.vms.Reprovision(ctx, ada, adaV, gone.ID); err != nil {
			t.Fatal(err)
		}
	})
}
