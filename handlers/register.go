package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"allmende/models/account"
	"allmende/views"
)

// ShowRegister renders the registration form.
func (h *Handler) ShowRegister(c echo.Context) error {
	if CurrentUser(c) != nil {
		return redirect(c, "/")
	}
	return h.renderRegister(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderRegister(c echo.Context, status int, f views.Form) error {
	p, err := h.page(c, "Register", "register")
	if err != nil {
		return err
	}
	return render(c, status, views.RegisterPage(p, f))
}

// Register takes the registration form. Bad input is shown on the form;
// otherwise every address gets the same answer, the page asking for the
// mailed code, so the form does not tell whether an address has an account.
func (h *Handler) Register(c echo.Context) error {
	f := formOf(c, "name", "email", "password")
	err := h.Registrations.Start(c.Request().Context(), c.RealIP(), account.RegisterInput{
		Name: f.Value("name"), Email: f.Value("email"), Password: f.Value("password"),
	})
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderRegister(c, status, f)
	}
	return redirect(c, "/register/confirm?email="+url.QueryEscape(account.NormalizeEmail(f.Value("email"))))
}

// ShowRegisterConfirm asks for the code mailed to a new address.
func (h *Handler) ShowRegisterConfirm(c echo.Context) error {
	if CurrentUser(c) != nil {
		return redirect(c, "/")
	}
	return h.renderRegisterConfirm(c, http.StatusOK, views.Form{Values: map[string]string{"email": c.QueryParam("email")}})
}

func (h *Handler) renderRegisterConfirm(c echo.Context, status int, f views.Form) error {
	p, err := h.page(c, "Check your mail", "register")
	if err != nil {
		return err
	}
	return render(c, status, views.RegisterConfirmPage(p, f))
}

// ConfirmRegistration makes the account once the mailed code comes back
// and signs it in.
func (h *Handler) ConfirmRegistration(c echo.Context) error {
	f := formOf(c, "email", "code")
	u, err := h.Registrations.Confirm(c.Request().Context(), c.RealIP(), f.Value("email"), f.Value("code"))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		f.Values["code"] = ""
		return h.renderRegisterConfirm(c, status, f)
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	if err := h.Sessions.AddFlash(c, "success", "Welcome! Your account has been created."); err != nil {
		return err
	}
	return redirect(c, "/")
}
