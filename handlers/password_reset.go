package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"allmende/models/account"
	"allmende/views"
)

// ShowForgotPassword asks for the address of the account.
func (h *Handler) ShowForgotPassword(c echo.Context) error {
	return h.renderForgot(c, http.StatusOK, views.Form{Values: map[string]string{"email": c.QueryParam("email")}})
}

func (h *Handler) renderForgot(c echo.Context, status int, f views.Form) error {
	p, err := h.page(c, "Forgot your password?", "login")
	if err != nil {
		return err
	}
	return render(c, status, views.ForgotPasswordPage(p, f))
}

// ForgotPassword mails a code if the address has an account; every
// well-formed address gets the same next page.
func (h *Handler) ForgotPassword(c echo.Context) error {
	f := formOf(c, "email")
	if err := h.PasswordResets.Request(c.Request().Context(), c.RealIP(), f.Value("email")); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderForgot(c, status, f)
	}
	return redirect(c, "/password/reset?email="+url.QueryEscape(account.NormalizeEmail(f.Value("email"))))
}

// ShowResetPassword asks for the mailed code and the new password.
func (h *Handler) ShowResetPassword(c echo.Context) error {
	return h.renderReset(c, http.StatusOK, views.Form{Values: map[string]string{"email": c.QueryParam("email")}})
}

func (h *Handler) renderReset(c echo.Context, status int, f views.Form) error {
	p, err := h.page(c, "Set a new password", "login")
	if err != nil {
		return err
	}
	return render(c, status, views.ResetPasswordPage(p, f))
}

// ResetPassword sets the new password and sends the person to log in.
func (h *Handler) ResetPassword(c echo.Context) error {
	f := formOf(c, "email", "code", "password")
	err := h.PasswordResets.Reset(c.Request().Context(), c.RealIP(), f.Value("email"), f.Value("code"), f.Value("password"))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		if f.Err("code") != "" {
			f.Values["code"] = "" // a wrong code is typed again, not edited
		}
		return h.renderReset(c, status, f)
	}
	if CurrentUser(c) != nil {
		// The reset ended every session, this one included.
		if err := h.Sessions.Logout(c); err != nil {
			return err
		}
	}
	if err := h.Sessions.AddFlash(c, "success", "Your new password is set. Log in with it."); err != nil {
		return err
	}
	return redirect(c, "/login")
}
