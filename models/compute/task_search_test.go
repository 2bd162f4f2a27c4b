package compute_test

import (
	"context"
	"net/http"
	"testing"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

// The task list's search (VM name, a LIKE pattern escaped; status; kind)
// works on both databases and stays within the viewer's own tasks.
func TestTaskListSearch(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		bob, bobV := e.member(t, "bob@example.org")
		if _, _, err := e.vms.Create(ctx, ada, adaV, compute.VMInput{Name: "web-1", PlanID: e.plan.ID, ImageID: e.image.ID}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.vms.Create(ctx, bob, bobV, compute.VMInput{Name: "web-2", PlanID: e.plan.ID, ImageID: e.image.ID}); err != nil {
			t.Fatal(err)
		}
		count := func(v models.Viewer, f compute.TaskFilter) int {
			t.Helper()
			tasks, err := e.tasks.List(ctx, v, f)
			if err != nil {
				t.Fatal(err)
			}
			return len(tasks)
		}
		if n := count(adaV, compute.TaskFilter{Query: "WEB-"}); n != 1 {
			t.Errorf("ada's search for WEB-: %d tasks, want 1", n)
		}
		if n := count(bobV, compute.TaskFilter{Query: "w%2"}); n != 0 {
			t.Errorf("a %% matched any text: %d tasks", n)
		}
		if n := count(bobV, compute.TaskFilter{Query: "b-2"}); n != 1 {
			t.Errorf("bob's search for b-2: %d tasks, want 1", n)
		}
		if n := count(adaV, compute.TaskFilter{Query: "bob@"}); n != 0 {
			t.Errorf("ada finds bob's tasks: %d", n)
		}
		if n := count(adaV, compute.TaskFilter{Status: compute.TaskQueued, Kind: compute.ActionCreate}); n != 1 {
			t.Errorf("queued creates: %d, want 1", n)
		}
		if n := count(adaV, compute.TaskFilter{Status: compute.TaskFailed}); n != 0 {
			t.Errorf("failed: %d, want 0", n)
		}
		// Count and Offset: the numbered pages of /tasks.
		for _, c := range []struct {
			v    models.Viewer
			f    compute.TaskFilter
			want int
		}{{adaV, compute.TaskFilter{}, 1}, {bobV, compute.TaskFilter{Query: "b-2", Offset: 1}, 1}, {adaV, compute.TaskFilter{Query: "bob@"}, 0}} {
			if n, err := e.tasks.Count(ctx, c.v, c.f); err != nil || n != c.want {
				t.Errorf("Count(%+v) = %d, %v; want %d", c.f, n, err, c.want)
			}
		}
		if n := count(bobV, compute.TaskFilter{Offset: 1}); n != 0 {
			t.Errorf("bob's second task of one: %d tasks", n)
		}
		if _, err := e.tasks.Count(ctx, adaV, compute.TaskFilter{Kind: "dance"}); err == nil {
			t.Error("Count takes an unknown kind")
		}
		_, err := e.tasks.List(ctx, adaV, compute.TaskFilter{Status: "lost"})
		modelstest.WantCode(t, err, http.StatusBadRequest)
		_, err = e.tasks.List(ctx, adaV, compute.TaskFilter{Kind: "dance"})
		modelstest.WantCode(t, err, http.StatusBadRequest)
	})
}
