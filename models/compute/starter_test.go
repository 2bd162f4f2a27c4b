package compute_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

// The starter plan and images are made once, with one build job in the
// same transaction; a second call changes nothing, and failed images are
// made pending again with a new job.
func TestStarterCreateIdempotent(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		s := compute.NewStarter(db, modelstest.NewQueue(t, db))
		_, memberV := e.member(t, "m@example.org")

		_, err := s.Create(ctx, e.admin, memberV, e.host.ID)
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, err = s.Create(ctx, e.admin, e.adminV, "nope")
		modelstest.FieldErr(t, err, "host_id")

		set, err := s.Create(ctx, e.admin, e.adminV, e.host.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !set.Changed || set.Ready() || set.Plan.MemoryMiB != 128 || set.Plan.VCPUs != 1 || set.Plan.DiskGiB != 1 {
			t.Fatalf("first set = %+v", set)
		}
		for _, img := range set.Images() {
			if img.Status != compute.ImagePending || img.HostID != e.host.ID || img.Pool != compute.StarterPool {
				t.Errorf("starter image = %+v", img)
			}
		}
		if d := set.Disk; d.Kind != compute.ImageDisk || d.KernelVolume != set.Kernel.Volume || d.InitrdVolume != set.Initrd.Volume ||
			d.KernelCmdline != compute.StarterCmdline {
			t.Errorf("starter disk = %+v", d)
		}
		jobs := func() int64 { return modelstest.Count(t, db, "river_job", "kind = 'starter.build'") }
		audits := func() int64 { return modelstest.Count(t, db, "audit_events", "action = 'starter.create'") }
		if jobs() != 1 || audits() != 1 {
			t.Errorf("jobs %d, audit entries %d; want 1, 1", jobs(), audits())
		}

		again, err := s.Create(ctx, e.admin, e.adminV, e.host.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.Changed || again.Disk.ID != set.Disk.ID || again.Plan.ID != set.Plan.ID || jobs() != 1 || audits() != 1 {
			t.Errorf("second Create changed things: %+v (jobs %d, audit %d)", again, jobs(), audits())
		}
		if n := modelstest.Count(t, db, "images", "name LIKE 'Starter%'"); n != 3 {
			t.Errorf("%d starter images, want 3", n)
		}

		if err := e.images.MarkReady(ctx, set.Kernel.ID, 1); err != nil {
			t.Fatal(err)
		}
		if err := e.images.MarkFailed(ctx, set.Initrd.ID, errors.New("apt-get download failed")); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, e.adminV, "")
		if err != nil || !got.Failed() || got.Initrd.Error == "" {
			t.Fatalf("after failure: %+v, %v", got, err)
		}
		retry, err := s.Create(ctx, e.admin, e.adminV, e.host.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !retry.Changed || retry.Initrd.Status != compute.ImagePending || retry.Initrd.Error != "" || retry.Kernel.Status != compute.ImageReady || jobs() != 2 {
			t.Errorf("retry = %+v / %+v (jobs %d)", retry.Initrd, retry.Kernel, jobs())
		}
	})
}
