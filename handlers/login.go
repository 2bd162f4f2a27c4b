package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

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

// Login checks the credentials; failures (including the rate limit's 429)
// come back as the form with one generic message.
func (h *Handler) Login(c echo.Context) error {
	f := formOf(c, "email", "password", "next")
	u, err := h.Accounts.Authenticate(c.Request().Context(), c.RealIP(), f.Value("email"), f.Value("password"))
	if err != nil {
		status, ok := formFailure(err, &f)
		if !ok {
			return err
		}
		return h.renderLogin(c, status, f)
	}
	if err := h.Sessions.Login(c, u); err != nil {
		return err
	}
	return redirect(c, safeNext(f.Value("next")))
}

// Logout ends the session.
func (h *Handler) Logout(c echo.Context) error {
	if err := h.Sessions.Logout(c); err != nil {
		return err
	}
	return redirect(c, "/login")
}
