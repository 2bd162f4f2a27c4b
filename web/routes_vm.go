package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
)

// vmRoutes are the members' VM pages, the console and the VM API.
func vmRoutes(user, api *echo.Group, h *handlers.Handler) {
}
