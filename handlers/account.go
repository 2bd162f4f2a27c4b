package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/views"
)

// ShowAccount renders the account page.
func (h *Handler) ShowAccount(c echo.Context) error {
	return h.renderAccount(c, http.StatusOK, views.Form{}, views.Form{}, "")
}

// SavePreferences keeps the account's language and time zone.
func (h *Handler) SavePreferences(c echo.Context) error {
	u := CurrentUser(c)
	f := formOf(c, "language", "time_zone")
	if err := h.Accounts.SetPreferences(c.Request().Context(), actor(c), u.ID, f.Value("language"), f.Value("time_zone")); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderAccountWith(c, status, views.Form{}, views.Form{}, f, "")
	}
	if err := h.Sessions.AddFlash(c, "success", "Your settings are saved."); err != nil {
		return err
	}
	return redirect(c, "/account")
}

func (h *Handler) renderAccount(c echo.Context, status int, pw, tok views.Form, newToken string) error {
	return h.renderAccountWith(c, status, pw, tok, views.Form{}, newToken)
}

func (h *Handler) renderAccountWith(c echo.Context, status int, pw, tok, prefs views.Form, newToken string) error {
	u := CurrentUser(c)
	p, err := h.page(c, "Account", "account")
	if err != nil {
		return err
	}
	tokens, err := h.Tokens.List(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	sessions, err := h.Accounts.Sessions(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	mailPrefs, err := h.Notifications.MailPrefs(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	a := views.Account{Email: u.Email, Tokens: tokens, NewToken: newToken, Sessions: sessions, Current: currentSession(c),
		Language: u.Language, TimeZone: u.TimeZone, Prefs: prefs, MailPrefs: mailPrefs}
	return render(c, status, views.AccountPage(p, a, pw, tok))
}

// ChangePassword replaces the password; the other sessions end, this one
// stays.
func (h *Handler) ChangePassword(c echo.Context) error {
	u := CurrentUser(c)
	f := formOf(c, "current", "new")
	err := h.Accounts.ChangePassword(c.Request().Context(), actor(c), u.ID, currentSession(c), f.Value("current"), f.Value("new"))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderAccount(c, status, f, views.Form{}, "")
	}
	if err := h.Sessions.AddFlash(c, "success", "Your password has been changed. Other sessions have been signed out."); err != nil {
		return err
	}
	return redirect(c, "/account")
}

// CreateToken issues a personal access token and shows its secret once.
// The page is rendered directly (not redirected) so the secret never
// travels through the session cookie.
func (h *Handler) CreateToken(c echo.Context) error {
	u := CurrentUser(c)
	f := formOf(c, "name")
	_, secret, err := h.Tokens.Create(c.Request().Context(), actor(c), u.ID, f.Value("name"))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderAccount(c, status, views.Form{}, f, "")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.renderAccount(c, http.StatusCreated, views.Form{}, views.Form{}, secret)
}

// RevokeToken ends one of the user's tokens.
func (h *Handler) RevokeToken(c echo.Context) error {
	u := CurrentUser(c)
	if err := h.Tokens.Revoke(c.Request().Context(), actor(c), u.ID, c.Param("id")); err != nil {
		return err
	}
	if err := h.Sessions.AddFlash(c, "success", "The token has been revoked."); err != nil {
		return err
	}
	return redirect(c, "/account")
}

// EndSession ends one of the user's sessions; another member's is 404.
// Ending the current one is a logout.
func (h *Handler) EndSession(c echo.Context) error {
	u := CurrentUser(c)
	id := c.Param("id")
	if err := h.Accounts.EndSession(c.Request().Context(), actor(c), u.ID, id); err != nil {
		return err
	}
	if id == currentSession(c) {
		if err := h.Sessions.Logout(c); err != nil {
			return err
		}
		return redirect(c, "/login")
	}
	if err := h.Sessions.AddFlash(c, "success", "The session has been ended."); err != nil {
		return err
	}
	return redirect(c, "/account")
}

// EndAllSessions logs out everywhere, here included.
func (h *Handler) EndAllSessions(c echo.Context) error {
	u := CurrentUser(c)
	if _, err := h.Accounts.EndSessions(c.Request().Context(), actor(c), u.ID, ""); err != nil {
		return err
	}
	if err := h.Sessions.Logout(c); err != nil {
		return err
	}
	return redirect(c, "/login")
}
