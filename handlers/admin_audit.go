package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/views"
)

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 50

// ShowAudit renders the audit log with the admin's filters (actor, action,
// target, text, a range of days in the reader's time zone), a page at a
// time; a day that does not parse is marked at its field.
func (h *Handler) ShowAudit(c echo.Context) error {
	ctx := c.Request().Context()
	pg, err := pageParams(c, auditPageSize, 500)
	if err != nil {
		return err
	}
	f := views.Form{Values: map[string]string{}, Errors: map[string]string{}}
	for _, k := range []string{"actor", "action", "target", "q", "from", "until"} {
		f.Values[k] = strings.TrimSpace(c.QueryParam(k))
	}
	filter := models.AuditFilter{Actor: f.Values["actor"], Action: f.Values["action"], Target: f.Values["target"],
		Query: f.Values["q"], Limit: pg.PerPage, Offset: pg.Offset()}
	loc := i18n.From(ctx).Location
	if from, ok := auditDay(f, "from", loc); ok {
		filter.From = from
	}
	if until, ok := auditDay(f, "until", loc); ok {
		filter.Until = until.AddDate(0, 0, 1) // the whole last day
	}
	var events []models.AuditEvent
	total := 0
	if len(f.Errors) == 0 {
		if total, err = h.Audit.Count(ctx, filter); err != nil {
			return err
		}
		if events, err = h.Audit.List(ctx, filter); err != nil {
			return err
		}
	}
	actions, err := h.Audit.Actions(ctx)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Audit log", "audit")
	if err != nil {
		return err
	}
	query := url.Values{}
	for k, v := range f.Values {
		query.Set(k, v)
	}
	paging := views.Paging{Path: "/admin/audit", Query: query, Page: pg.Page, PerPage: pg.PerPage, Total: total}
	status := http.StatusOK
	if len(f.Errors) > 0 {
		status = http.StatusBadRequest
	}
	return render(c, status, views.AuditPage(p, f, actions, events, paging))
}

// auditDay reads a day of the filter (YYYY-MM-DD, as date inputs send)
// as its start in loc; a bad one is a field error.
func auditDay(f views.Form, name string, loc *time.Location) (time.Time, bool) {
	v := f.Values[name]
	if v == "" {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		f.Errors[name] = "Enter a date as YYYY-MM-DD."
		return time.Time{}, false
	}
	return t.UTC(), true
}
