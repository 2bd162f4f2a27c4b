// Package handlers turns HTTP requests into calls of the domain services in
// models and renders the answer as a page, an htmx partial, or JSON.
//
// Each handler parses, authorises and calls one service method; rules live
// in models. Handlers depend on the small interfaces below, not on globals.
package handlers

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/views"
)

// AccountService is what the handlers need from models.Accounts.
type AccountService interface {
	Register(ctx context.Context, actor models.Actor, in account.RegisterInput) (*account.User, error)
	Authenticate(ctx context.Context, ip, email, password string) (*account.User, error)
	ChangePassword(ctx context.Context, actor models.Actor, userID, current, next string) error
	Get(ctx context.Context, id string) (*account.User, error)
	// ByEmail finds an account, e.g. a member the board excludes from a vote.
	ByEmail(ctx context.Context, email string) (*account.User, error)
}

// TokenService is what the handlers need from models.Tokens.
type TokenService interface {
	Create(ctx context.Context, actor models.Actor, userID, name string) (*account.APIToken, string, error)
	List(ctx context.Context, userID string) ([]account.APIToken, error)
	Revoke(ctx context.Context, actor models.Actor, userID, tokenID string) error
	Authenticate(ctx context.Context, secret string) (*account.User, error)
}

// HostService is what the handlers need from models.Hosts.
type HostService interface {
	List(ctx context.Context) ([]compute.Host, error)
	Add(ctx context.Context, actor models.Actor, in compute.HostInput) (*compute.Host, error)
	RequestRefresh(ctx context.Context, actor models.Actor, hostID string) error
}

// AuditReader is what the handlers need from models.AuditLog.
type AuditReader interface {
	List(ctx context.Context, f models.AuditFilter) ([]models.AuditEvent, error)
}

// Handler holds the dependencies of every handler.
type Handler struct {
	Accounts AccountService
	Tokens   TokenService
	Hosts    HostService
	Audit    AuditReader
	Outbox   OutboxReader
	Members  MembershipService
	Rules    RuleReader

	Governance GovernanceService

	VMs          VMService
	Tasks        TaskService
	Plans        PlanService
	Images       ImageService
	Networks     NetworkService
	SSHKeys      SSHKeyService
	HostSettings HostSettings
	Console      ConsoleOpener
	UploadDir    string // where image uploads are spooled before import

	Sessions *Sessions
	Log      *slog.Logger
}

// render writes a component after rendering it fully into a buffer, so a
// failing render never sends half a page with status 200.
func render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
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
	p := views.Page{Title: title, Nav: nav, CSRF: csrf, Flash: flash}
	if u := CurrentUser(c); u != nil {
		p.Viewer = &views.Viewer{Name: u.Name, Email: u.Email,
			IsMember: u.Has(account.RoleMember), IsBoard: u.Has(account.RoleBoard), IsAdmin: u.Has(account.RoleAdmin)}
	}
	return p, nil
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
func formFailure(err error, f *views.Form) (status int, ok bool) {
	de, isDomain := models.AsError(err)
	if !isDomain {
		return http.StatusInternalServerError, false
	}
	f.Errors = de.Fields
	if len(de.Fields) == 0 || de.Code != http.StatusUnprocessableEntity {
		f.Error = de.Safe
	}
	return de.Code, true
}

// redirect answers a form post with a redirect to a page (303 See Other,
// so the browser follows with GET).
func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }
