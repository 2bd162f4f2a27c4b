package handlers

import (
	"net/http"

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
	tasks, err := h.Tasks.List(ctx, v, compute.TaskFilter{Before: c.QueryParam("before"), Limit: tasksPerPage})
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
		next = tasks[len(tasks)-1].ID
	}
	p, err := h.page(c, "Task history", "vms")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TasksPage(p, tasks, names, next))
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
