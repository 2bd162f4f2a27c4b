// Package handlers turns HTTP requests into calls of the domain services in
// models and renders the answer as a page, an htmx partial, or JSON.
//
// Each handler parses, authorises and calls one service method; rules live
// in models. Handlers hold the domain services themselves (no globals); an interface
// stands only where a test substitutes something (ConsoleOpener).
package handlers

import (
	"allmende/i18n"
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"allmende/mail"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/governance"
	"allmende/models/membership"
	"allmende/models/metering"

	"allmende/models/moderation"
	"allmende/models/replication"
	"allmende/models/rulebook"
	"allmende/views"
)

// Handler holds the dependencies of every handler.
type Handler struct {
	Accounts       *account.Accounts
	Registrations  *account.Registrations
	PasswordResets *account.PasswordResets
	Tokens         *account.Tokens
	Idempotency    *account.IdempotencyKeys // nil: Idempotency-Key is ignored
	Notifications  *account.Notifications
	Hosts          *compute.Hosts
	Audit          *models.AuditLog
	Outbox         *mail.Outbox
	Members        *membership.Memberships
	Rules          *rulebook.Rules

	Governance *governance.Governance

	VMs          *compute.VMs
	Tasks        *compute.Tasks
	Plans        *compute.Plans
	Images       *compute.Images
	Starter      *compute.Starter
	Networks     *compute.Networks
	SSHKeys      *compute.SSHKeys
	HostSettings *compute.Hosts
	Replicas     *replication.Replicas // nil: no replication section or pages
	Moderation   *moderation.Moderation
	FenceCommand bool // a fence command is configured (admin_failover.go)
	Console      ConsoleOpener
	UploadDir    string // where image uploads are spooled before import

	// Metrics: VM and host series (models/metering); Commons: the
	// members' view of capacity, costs and statements.
	Metrics *metering.Metrics
	Commons *metering.Commons
	// commonsCache: the last reading of /commons (commons.go).
	commonsCache commonsCache

	Sessions *Sessions
	// dashboards keeps each account's "needs you now" for a moment
	// (dashboard.go); the zero value is ready.
	dashboards dashboardCache
	// menus keeps the navigation menu as drawn per language, roles and page.
	menus views.MenuCache
	Log   *slog.Logger
}

// render writes a component after rendering it fully into a buffer, so a
// failing render never sends half a page with status 200.
func render(c echo.Context, status int, comp templ.Component) error {
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer putPageBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	// The response copies the bytes (into net/http's or gzip's buffer)
	// before HTMLBlob returns, so the buffer may go back to the pool.
	return c.HTMLBlob(status, buf.Bytes())
}

// pageBuffers keeps render's buffers: growing a fresh one to the size of
// a page, a dozen doublings, was a tenth of a dashboard's CPU.
var pageBuffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 16<<10)) }}

// maxPooledPage: a buffer grown by a rare huge page (the member register
// of a large cooperative) is left to the GC rather than kept.
const maxPooledPage = 256 << 10

func putPageBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledPage {
		return
	}
	buf.Reset()
	pageBuffers.Put(buf)
}

// page assembles the layout data of the current request.
func (h *Handler) page(c echo.Context, title, nav string) (views.Page, error) {
	csrf, err := h.Sessions.CSRFToken(c)
	if err != nil {
		return views.Page{}, err
	}
	flash, err := h.Sessions.flashes(c)
	if err != nil {
		return views.Page{}, err
	}
	p := views.Page{Title: i18n.T(c.Request().Context(), title), Nav: nav, CSRF: csrf, Flash: flash, Viewer: pageViewer(c),
		Path: c.Request().URL.RequestURI(), Menus: &h.menus}
	if p.Viewer != nil && h.Notifications != nil {
		n, err := h.Notifications.Unread(c.Request().Context(), CurrentUser(c).ID)
		if err != nil {
			return views.Page{}, err
		}
		p.Viewer.Unread = n
	}
	return p, nil
}

// pageViewer is the signed-in account as views need it; nil when anonymous.
func pageViewer(c echo.Context) *views.Viewer {
	u := CurrentUser(c)
	if u == nil {
		return nil
	}
	return &views.Viewer{Name: u.Name, Email: u.Email,
		IsMember: u.Has(account.RoleMember), IsBoard: u.Has(account.RoleBoard), IsAdmin: u.Has(account.RoleAdmin),
		IsSupervisory: u.Has(account.RoleSupervisory), IsModerator: u.Has(account.RoleModerator), IsAppeals: u.Has(account.RoleAppeals)}
}

// actor describes who makes the request, for the audit log.
func actor(c echo.Context) models.Actor {
	a := models.Actor{IP: c.RealIP()}
	if u := CurrentUser(c); u != nil {
		a.UserID, a.Email = u.ID, u.Email
	}
	return a
}

// formOf collects the named fields of a submitted form.
func formOf(c echo.Context, names ...string) views.Form {
	f := views.Form{Values: map[string]string{}}
	for _, n := range names {
		f.Values[n] = c.FormValue(n)
	}
	return f
}

// formFailure turns a domain error into form errors when it is the user's
// fault; ok is false for internal errors, which the caller returns.
func formFailure(ctx context.Context, err error, f *views.Form) (status int, ok bool) {
	de, isDomain := models.AsError(err)
	if !isDomain {
		return http.StatusInternalServerError, false
	}
	f.Errors = fieldTexts(ctx, de)
	if len(de.Fields) == 0 || de.Code != http.StatusUnprocessableEntity {
		f.Error = safeText(ctx, de)
	}
	return de.Code, true
}

// redirect answers a form post with a redirect to a page (303 See Other,
// so the browser follows with GET).
func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }
