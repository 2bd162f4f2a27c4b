package handlers

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/compute"
	"allmende/views"
)

// tasksPerPage is how many tasks the history shows at once.
const tasksPerPage = 50

// ShowTasks is the viewer's task history, newest first, a page at a time.
func (h *Handler) ShowTasks(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	f := taskFilter(c, tasksPerPage)
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
	next := ""
	if len(tasks) == tasksPerPage {
		next = "/tasks?" + taskQuery(f, tasks[len(tasks)-1].ID).Encode()
	}
	p, err := h.page(c, "Task history", "vms")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TasksPage(p, tasks, names, f, next))
}

// taskFilter reads the task list's search: q, status, kind and the page
// (before: the id of the last task of the previous page).
func taskFilter(c echo.Context, limit int) compute.TaskFilter {
	return compute.TaskFilter{Query: c.QueryParam("q"), Status: compute.TaskStatus(c.QueryParam("status")),
		Kind: compute.VMAction(c.QueryParam("kind")), Before: c.QueryParam("before"), Limit: limit}
}

// taskQuery is the query of the page after before, with the same search.
func taskQuery(f compute.TaskFilter, before string) url.Values {
	q := url.Values{"before": {before}}
	for name, v := range map[string]string{"q": f.Query, "status": string(f.Status), "kind": string(f.Kind)} {
		if v != "" {
			q.Set(name, v)
		}
	}
	return q
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
	limit := 50
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return models.BadQuery("limit", "Give limit as a whole number from 1 to 200.")
		}
		limit = n
	}
	tasks, err := h.Tasks.List(c.Request().Context(), viewer(CurrentUser(c)), taskFilter(c, limit))
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
	if len(tasks) == limit {
		out.NextBefore = &tasks[len(tasks)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}
