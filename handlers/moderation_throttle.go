package handlers

import (
	"errors"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models/moderation"
)

// abuseRetryAfter tells a sender of too many abuse reports, page or API,
// when to try again (Retry-After), and logs it for the admins.
func (h *Handler) abuseRetryAfter(c echo.Context, err error) {
	var t *moderation.AbuseThrottled
	if errors.As(err, &t) {
		c.Response().Header().Set("Retry-After", t.RetryAfterSeconds())
		h.Log.Warn("abuse reports throttled", "ip", c.RealIP(), "count", t.Count, "what", t.What, "retry_after", t.RetryAfter.Round(time.Second))
	}
}
