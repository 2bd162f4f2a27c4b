package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/account"
	"allmende/views"
)

// ShowNotifications lists the signed-in account's notifications, newest
// first, each in the reader's language.
func (h *Handler) ShowNotifications(c echo.Context) error {
	u := CurrentUser(c)
	list, err := h.Notifications.List(c.Request().Context(), u.ID, 100)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Notifications", "notifications")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.NotificationsPage(p, list))
}

// MarkNotificationRead marks one notification read and goes to its page
// when it has one ("open"), else back to the list.
func (h *Handler) MarkNotificationRead(c echo.Context) error {
	u := CurrentUser(c)
	if err := h.Notifications.MarkRead(c.Request().Context(), u.ID, c.Param("id")); err != nil {
		return err
	}
	if next := c.FormValue("next"); next != "" {
		return redirect(c, safeNext(next))
	}
	return redirect(c, "/notifications")
}

// MarkAllNotificationsRead marks every notification of the account read.
func (h *Handler) MarkAllNotificationsRead(c echo.Context) error {
	u := CurrentUser(c)
	if _, err := h.Notifications.MarkAllRead(c.Request().Context(), u.ID); err != nil {
		return err
	}
	return h.flashTo(c, "success", "All notifications are marked read.", "/notifications")
}

// SaveMailPreferences keeps which kinds of notification also come by mail.
func (h *Handler) SaveMailPreferences(c echo.Context) error {
	u := CurrentUser(c)
	if err := c.Request().ParseForm(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	on := map[account.Kind]bool{}
	for _, k := range c.Request().PostForm["mail"] {
		on[account.Kind(k)] = true
	}
	if err := h.Notifications.SetMailPrefs(c.Request().Context(), actor(c), u.ID, on); err != nil {
		return h.refused(c, err, "/account")
	}
	return h.flashTo(c, "success", "Your mail preferences are saved.", "/account")
}

type apiNotification struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Message   string     `json:"message"`
	Link      string     `json:"link"`
	CreatedAt time.Time  `json:"created_at"`
	ReadAt    *time.Time `json:"read_at"`
}

// APINotifications answers GET /api/v1/notifications: the caller's newest
// notifications (limit, default 50, at most 200) and the unread count.
func (h *Handler) APINotifications(c echo.Context) error {
	limit := 50
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return models.BadQuery("limit", "Use a limit from 1 to 200.")
		}
		limit = n
	}
	ctx := c.Request().Context()
	list, err := h.Notifications.List(ctx, CurrentUser(c).ID, limit)
	if err != nil {
		return err
	}
	out := make([]apiNotification, 0, len(list.Items))
	for i := range list.Items {
		n := &list.Items[i]
		m := n.Msg()
		out = append(out, apiNotification{ID: n.ID, Kind: string(n.Kind), Message: m.Text(ctx),
			Link: n.Link, CreatedAt: n.CreatedAt, ReadAt: n.ReadAt})
	}
	return c.JSON(http.StatusOK, map[string]any{"notifications": out, "unread": list.Unread, "more": list.More})
}

// APIMarkNotificationRead answers POST /api/v1/notifications/{id}/read
// with 204.
func (h *Handler) APIMarkNotificationRead(c echo.Context) error {
	if err := h.Notifications.MarkRead(c.Request().Context(), CurrentUser(c).ID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APIMarkAllNotificationsRead answers POST /api/v1/notifications/read-all
// with how many were unread.
func (h *Handler) APIMarkAllNotificationsRead(c echo.Context) error {
	n, err := h.Notifications.MarkAllRead(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"marked": n})
}
