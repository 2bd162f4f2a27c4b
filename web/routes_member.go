package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
)

// memberRoutes are the pages and API endpoints of a member's own
// membership. user requires a signed-in account; api a token.
func memberRoutes(user, api *echo.Group, h *handlers.Handler) {
}
