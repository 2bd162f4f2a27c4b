package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/views"
)

const auditPageSize = 100

// ShowAudit renders the audit log with the admin's filters.
func (h *Handler) ShowAudit(c echo.Context) error {
	q := views.AuditQuery{Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), Target: c.QueryParam("target")}
	events, err := h.Audit.List(c.Request().Context(), models.AuditFilter{
		Actor: q.Actor, Action: q.Action, Target: q.Target, Before: c.QueryParam("before"), Limit: auditPageSize,
	})
	if err != nil {
		return err
	}
	if len(events) == auditPageSize {
		v := url.Values{"actor": {q.Actor}, "action": {q.Action}, "target": {q.Target}, "before": {events[len(events)-1].ID}}
		q.Next = v.Encode()
	}
	p, err := h.page(c, "Audit log", "audit")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AuditPage(p, q, events))
}
