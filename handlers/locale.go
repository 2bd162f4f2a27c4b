package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
)

// Cookies that keep a signed-out visitor's language, and the time zone the
// browser reports (static/app.js sets it).
const (
	langCookie = "lang"
	tzCookie   = "tz"
)

// Locale puts the request's language and time zone into its context, for
// the views (i18n.T(ctx, …)) and the handlers. The account's settings come
// first, then the visitor's choice (cookie), then the browser's
// Accept-Language header and time zone.
func (h *Handler) Locale(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setLocale(c)
		return next(c)
	}
}

func setLocale(c echo.Context) {
	r := c.Request()
	var lang i18n.Lang
	var tz *time.Location
	if u := CurrentUser(c); u != nil {
		lang, _ = i18n.Parse(u.Language)
		if u.TimeZone != "" {
			tz, _ = i18n.Zone(u.TimeZone)
		}
	}
	if lang == "" {
		if ck, err := r.Cookie(langCookie); err == nil {
			lang, _ = i18n.Parse(ck.Value)
		}
	}
	if lang == "" {
		lang = i18n.Negotiate(r.Header.Get("Accept-Language"))
	}
	if tz == nil {
		if ck, err := r.Cookie(tzCookie); err == nil {
			tz, _ = i18n.Zone(ck.Value) // IANA names only, never a path
		}
	}
	c.SetRequest(r.WithContext(i18n.WithLocale(r.Context(), i18n.NewLocale(lang, tz))))
	c.Response().Header().Add("Vary", "Accept-Language")
}

// SetLanguage switches the language: for the account when signed in, and
// in a cookie for this browser either way; then back to the page.
func (h *Handler) SetLanguage(c echo.Context) error {
	lang, ok := i18n.Parse(c.FormValue("lang"))
	if !ok {
		return echo.NewHTTPError(http.StatusBadRequest, "choose de or en")
	}
	if u := CurrentUser(c); u != nil {
		if err := h.Accounts.SetPreferences(c.Request().Context(), actor(c), u.ID, string(lang), u.TimeZone); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: langCookie, Value: string(lang), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.Scheme() == "https"})
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}
