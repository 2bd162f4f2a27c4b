package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
)

// adminVMRoutes are the admins' pages for plans, images, networks, host
// settings and the reconciler's findings.
func adminVMRoutes(admin, api *echo.Group, h *handlers.Handler) {
}
