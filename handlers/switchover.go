package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
)

// APISwitchover answers POST /api/v1/vms/{id}/switchover (admins): the
// planned move of a running VM to its replica host; 202 with the task.
func (h *Handler) APISwitchover(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("virtual machine")
	}
	t, err := h.Replicas.Switchover(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return h.apiTaskAccepted(c, t.Task, nil)
}

// AdminSwitchover is the admins' switchover button (replication page, VM
// page): it starts the switchover and goes to its task.
func (h *Handler) AdminSwitchover(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("virtual machine")
	}
	t, err := h.Replicas.Switchover(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		if de, ok := models.AsError(err); ok && de.Code == http.StatusConflict {
			return h.flashTo(c, "error", safeText(c.Request().Context(), de), "/admin/replication")
		}
		return err
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Switching %s over from %s to %s.", t.VMName, t.From, t.To), "/tasks/"+t.TaskID)
}

// AdminDrainHost switches over every running VM of a host, for
// maintenance; the flash lists those that could not be moved.
func (h *Handler) AdminDrainHost(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("host")
	}
	started, refused, err := h.Replicas.Drain(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	msg := i18n.T(ctx, "Draining: %d virtual machine(s) being switched over.", len(started))
	kind := "success"
	if len(refused) > 0 {
		kind = "error"
		var why []string
		for _, r := range refused {
			why = append(why, r.ReasonMsg.Text(ctx))
		}
		msg += " " + i18n.T(ctx, "Not moved (%d): %s", len(refused), strings.Join(why, " "))
	}
	return h.flashTo(c, kind, msg, "/admin/hosts")
}
