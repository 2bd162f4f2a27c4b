package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models"
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

// Register creates the account and signs it in.
func (h *Handler) Register(c echo.Context) error {
	f := formOf(c, "name", "email", "password")
	u, err := h.Accounts.Register(c.Request().Context(), models.Actor{IP: c.RealIP()}, account.RegisterInput{
		Name: f.Value("name"), Email: f.Value("email"), Password: f.Value("password"),
	})
	if err != nil {
		status, ok := formFailure(err, &f)
		if !ok {
			return err
		}
		return h.renderRegister(c, status, f)
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	if err := h.Sessions.AddFlash(c, "success", "Welcome! Your account has been created."); err != nil {
		return err
	}
	return redirect(c, "/")
}
