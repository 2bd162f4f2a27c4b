package web

import (
	"allmende/handlers"
	"allmende/models/account"

	"github.com/labstack/echo/v4"
)

// runoffRoutes: the board closes an election's vote before the assembly's
// and opens its runoff in the same assembly (§43(2) GenG).
func runoffRoutes(user *echo.Group, h *handlers.Handler) {
	board := user.Group("/board/assemblies", handlers.RequireRole(account.RoleBoard))
	board.POST("/:id/items/:item/close", h.CloseRound)
	board.POST("/:id/items/:item/runoff", h.OpenRunoff)
}
