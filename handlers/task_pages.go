package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models/compute"
	"allmende/views"
)

// tasksPerPage is how many tasks the history shows at once.
const tasksPerPage = 50

// ShowTasks is the viewer's task history, newest first, a page at a time.
func (h *Handler) ShowTasks(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	pg, err := pageParams(c, tasksPerPage, 200)
	if err != nil {
		return err
	}
	f := taskFilter(c)
	total, err := h.Tasks.Count(ctx, v, f)
	if err != nil {
		return err
	}
	f.Limit, f.Offset = pg.PerPage, pg.Offset()
	tasks, err := h.Tasks.List(ctx, v, f)
	if err != nil {
		return err
	}
	// Tasks outlive their VMs, so deleted VMs are named too.
	vms, err := h.VMs.List(ctx, v, compute.VMFilter{IncludeDeleted: true})
	if err != nil {
		return err
	}
	names := make(map[string]string, len(vms))
	for _, vm := range vms {
		names[vm.ID] = vm.Name
	}
	p, err := h.page(c, "Task history", "vms")
	if err != nil {
		return err
	}
	query := url.Values{"q": {f.Query}, "status": {string(f.Status)}, "kind": {string(f.Kind)}}
	return render(c, http.StatusOK, views.TasksPage(p, tasks, names, f, pg.View("/tasks", query, total)))
}

// taskFilter reads the task list's search: q, status and kind.
func taskFilter(c echo.Context) compute.TaskFilter {
	return compute.TaskFilter{Query: c.QueryParam("q"), Status: compute.TaskStatus(c.QueryParam("status")),
		Kind: compute.VMAction(c.QueryParam("kind"))}
}

// ShowTask is one task with its log.
func (h *Handler) ShowTask(c echo.Context) error {
	t, err := h.Tasks.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := h.page(c, i18n.T(ctx, "Task %s of %s", i18n.T(ctx, string(t.Kind)), t.VMName), "vms")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TaskPage(p, taskView(t)))
}

// TaskLog is the htmx partial a task's page polls while the task is active.
func (h *Handler) TaskLog(c echo.Context) error {
	t, err := h.Tasks.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.partialPage(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TaskLog(p, taskView(t)))
}

func taskView(t *compute.TaskDetail) views.TaskView {
	return views.TaskView{Task: t, CanRetry: t.Retryable()}
}

// RetryTask runs a failed task again as a new task and shows that one.
func (h *Handler) RetryTask(c echo.Context) error {
	t, err := h.Tasks.Retry(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return h.refused(c, err, "/tasks/"+c.Param("id"))
	}
	return h.flashTo(c, "success", "The task is being retried.", "/tasks/"+t.ID)
}

// APITasks answers GET /api/v1/tasks: the caller's tasks (admins: all),
// newest first, searched and paged as on /tasks; next_before fetches the
// following page.
func (h *Handler) APITasks(c echo.Context) error {
	cur, err := cursorParams(c, tasksPerPage, 200)
	if err != nil {
		return err
	}
	f := taskFilter(c)
	f.Before, f.Limit = cur.Before, cur.Limit
	tasks, err := h.Tasks.List(c.Request().Context(), viewer(CurrentUser(c)), f)
	if err != nil {
		return err
	}
	out := struct {
		Tasks      []apiTask `json:"tasks"`
		NextBefore *string   `json:"next_before"`
	}{Tasks: make([]apiTask, 0, len(tasks))}
	for i := range tasks {
		out.Tasks = append(out.Tasks, toAPITask(&tasks[i]))
	}
	if len(tasks) == cur.Limit {
		out.NextBefore = &tasks[len(tasks)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}
