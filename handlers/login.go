package handlers

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models/account"
	"allmende/views"
)

// ShowLogin renders the login form.
func (h *Handler) ShowLogin(c echo.Context) error {
	if CurrentUser(c) != nil {
		return redirect(c, "/")
	}
	f := views.Form{Values: map[string]string{"next": c.QueryParam("next")}}
	return h.renderLogin(c, http.StatusOK, f)
}

func (h *Handler) renderLogin(c echo.Context, status int, f views.Form) error {
	p, err := h.page(c, "Log in", "login")
	if err != nil {
		return err
	}
	return render(c, status, views.LoginPage(p, f))
}

// Login checks the credentials; failures come back as the form with one
// generic message. The throttle's 429 says how long to wait (Retry-After)
// and is logged, as are failures that start a wait, for the admins.
func (h *Handler) Login(c echo.Context) error {
	f := formOf(c, "email", "password", "next")
	u, err := h.Accounts.Authenticate(c.Request().Context(), c.RealIP(), f.Value("email"), f.Value("password"))
	if err != nil {
		var t *account.LoginThrottled
		if errors.As(err, &t) {
			c.Response().Header().Set("Retry-After", t.RetryAfterSeconds())
			h.Log.Warn("login throttled", "ip", c.RealIP(), "email", account.NormalizeEmail(f.Value("email")),
				"scope", t.Scope, "failures", t.Failures, "retry_after", t.RetryAfter.Round(time.Second))
		}
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderLogin(c, status, f)
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	return redirect(c, safeNext(f.Value("next")))
}

// signIn starts a server-side session for u and puts it into the cookie.
func (h *Handler) signIn(c echo.Context, u *account.User) error {
	token, err := h.Accounts.StartSession(c.Request().Context(), u, c.RealIP(), c.Request().UserAgent())
	if err != nil {
		return err
	}
	return h.Sessions.Login(c, token)
}

// Logout ends the server-side session, so a copy of the cookie is worthless
// too, and drops the cookie.
func (h *Handler) Logout(c echo.Context) error {
	if err := h.Accounts.Logout(c.Request().Context(), actor(c), h.Sessions.token(c)); err != nil {
		return err
	}
	if err := h.Sessions.Logout(c); err != nil {
		return err
	}
	return redirect(c, "/login")
}
