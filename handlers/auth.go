package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/account"
)

const (
	ctxUser    = "allmende.user"
	ctxSession = "allmende.session" // the id of the request's account.Session
)

// CurrentUser returns the signed-in user, or nil.
func CurrentUser(c echo.Context) *account.User {
	u, _ := c.Get(ctxUser).(*account.User)
	return u
}

// currentSession returns the id of the request's server-side session.
func currentSession(c echo.Context) string {
	id, _ := c.Get(ctxSession).(string)
	return id
}

// LoadUser resolves the session cookie to its server-side session and
// user. A session that was ended (logout, elsewhere, password change, lock)
// or has expired drops the cookie.
func (h *Handler) LoadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token := h.Sessions.token(c)
		if token == "" {
			return next(c)
		}
		u, sid, err := h.Accounts.SessionUser(c.Request().Context(), token, c.RealIP())
		if models.IsNotFound(err) {
			return h.endSession(c, next)
		}
		if err != nil {
			return err
		}
		c.Set(ctxUser, u)
		c.Set(ctxSession, sid)
		return next(c)
	}
}

func (h *Handler) endSession(c echo.Context, next echo.HandlerFunc) error {
	if err := h.Sessions.Logout(c); err != nil {
		return err
	}
	return next(c)
}

// CSRF rejects state-changing requests without the session's token.
func (h *Handler) CSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if !h.Sessions.validCSRF(c) {
			return &models.Error{Code: http.StatusForbidden,
				Safe: "This form has expired or was sent from another site. Reload the page and try again."}
		}
		return next(c)
	}
}

// RequireUser sends anonymous visitors to the login page.
func RequireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if CurrentUser(c) == nil {
			return redirect(c, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		return next(c)
	}
}

// RequireRole answers 403 unless the user holds role r.
func RequireRole(r account.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := CurrentUser(c)
			if u == nil {
				if strings.HasPrefix(c.Path(), "/api/") {
					return unauthorized()
				}
				return redirect(c, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
			}
			if !u.Has(r) {
				return models.Forbidden("This needs the " + string(r) + " role.")
			}
			return next(c)
		}
	}
}

// RequireAnyRole lets through an account holding one of roles.
func RequireAnyRole(roles ...account.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := CurrentUser(c)
			if u == nil {
				return redirect(c, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
			}
			for _, r := range roles {
				if u.Has(r) {
					return next(c)
				}
			}
			return models.Forbidden("This page is for the board and the supervisory board.")
		}
	}
}

// APIAuth authenticates /api/v1 requests by personal access token only;
// cookies are ignored there, which is why the API needs no CSRF token.
func (h *Handler) APIAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		authz := c.Request().Header.Get(echo.HeaderAuthorization)
		secret, ok := strings.CutPrefix(authz, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			return unauthorized()
		}
		u, err := h.Tokens.Authenticate(c.Request().Context(), strings.TrimSpace(secret))
		if err != nil {
			return err
		}
		c.Set(ctxUser, u)
		return next(c)
	}
}

func unauthorized() error {
	return &models.Error{Code: http.StatusUnauthorized, Safe: "authentication required: send Authorization: Bearer <token>"}
}

// safeNext keeps post-login redirects on this site: next is returned as
// is when it is a clean absolute path (with optional query and fragment) of
// this site, and "/" otherwise. Browsers are lenient with Location: they
// drop tabs and newlines, read a backslash as a slash and "//host" or
// "https:host" as another site, so only printable ASCII without
// backslashes is accepted, it must start with exactly one slash, and it
// must parse as a URL without scheme or host whose decoded path has no
// control characters or backslashes either.
func safeNext(next string) string {
	const home = "/"
	if !localPath(next) {
		return home
	}
	return next
}

// localPath says whether s is a clean absolute path of this site.
func localPath(s string) bool {
	if len(s) == 0 || len(s) > 2048 || s[0] != '/' || strings.HasPrefix(s, "//") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Opaque != "" || u.User != nil || u.Host != "" || !strings.HasPrefix(u.Path, "/") {
		return false
	}
	return !strings.ContainsFunc(u.Path, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\\' })
}
