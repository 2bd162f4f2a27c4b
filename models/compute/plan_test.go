package compute_test

import (
	"context"
	"net/http"
	"testing"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

func TestPlansCRUD(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		_, memberV := e.member(t, "m@example.org")

		_, err := e.plans.Create(ctx, e.admin, e.adminV, compute.PlanInput{Name: " ", VCPUs: 0, MemoryMiB: 64, DiskGiB: 0})
		for _, f := range []string{"name", "vcpus", "memory_mib", "disk_gib"} {
			modelstest.FieldErr(t, err, f)
		}
		_, err = e.plans.Create(ctx, e.admin, e.adminV, compute.PlanInput{Name: "SMALL", VCPUs: 1, MemoryMiB: 512, DiskGiB: 5})
		modelstest.FieldErr(t, err, "name") // names are unique regardless of case
		_, err = e.plans.Create(ctx, e.admin, memberV, compute.PlanInput{Name: "x", VCPUs: 1, MemoryMiB: 512, DiskGiB: 5})
		modelstest.WantCode(t, err, http.StatusForbidden)

		big := e.addPlan(t, "big", 4, 4096, 40)
		big, err = e.plans.Update(ctx, e.admin, e.adminV, big.ID, compute.PlanInput{Name: "large", VCPUs: 2, MemoryMiB: 4096, DiskGiB: 40})
		if err != nil {
			t.Fatal(err)
		}
		if big.Name != "large" || big.VCPUs != 2 {
			t.Errorf("updated plan = %+v", big)
		}
		list, err := e.plans.List(ctx, memberV)
		if err != nil || len(list) != 2 {
			t.Fatalf("plans = %v, %v", list, err)
		}

		// An unused plan goes; a used one is retired and keeps its sizes.
		if err := e.plans.Delete(ctx, e.admin, e.adminV, big.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.plans.Get(ctx, e.adminV, big.ID); err == nil {
			t.Error("deleted plan still there")
		}
		who, v := e.member(t, "owner@example.org")
		e.create(t, who, v, "web")
		_, err = e.plans.Update(ctx, e.admin, e.adminV, e.plan.ID, compute.PlanInput{Name: "small", VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10})
		modelstest.WantCode(t, err, http.StatusConflict)
		if err := e.plans.Delete(ctx, e.admin, e.adminV, e.plan.ID); err != nil {
			t.Fatal(err)
		}
		p, err := e.plans.Get(ctx, e.adminV, e.plan.ID)
		if err != nil || p.RetiredAt == nil {
			t.Fatalf("used plan after delete = %+v, %v; want retired", p, err)
		}
		if _, err := e.plans.Get(ctx, memberV, e.plan.ID); err == nil {
			t.Error("member sees a retired plan")
		}
		if n := modelstest.Count(t, db, "audit_events", "action LIKE 'plan.%'"); n != 5 {
			t.Errorf("plan audit entries = %d, want 5", n)
		}
	})
}
