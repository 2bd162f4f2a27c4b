package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/views"
)

// loginReportPeriod is how far back the admins' view of failed logins
// looks: longer than the throttle's window, to show slow guessing too.
const loginReportPeriod = 24 * time.Hour

// ShowLogins shows admins the failed logins by address and by account.
func (h *Handler) ShowLogins(c echo.Context) error {
	r, err := h.Accounts.FailedLogins(c.Request().Context(), loginReportPeriod)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Failed logins", "logins")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.LoginsPage(p, r))
}
