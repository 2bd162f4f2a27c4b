package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
)

// boardRoutes are the board's pages and API endpoints.
func boardRoutes(pages, api *echo.Group, h *handlers.Handler) {
}
