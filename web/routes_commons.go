package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
	"allmende/models/account"
)

// commonsRoutes are the metrics graphs, /commons, the statements and the
// board's costs (models/metering). Every signed-in account sees /commons
// (it names no one); a VM's series and a statement are its owner's (and
// the board's for statements), others get 404.
func commonsRoutes(pages, user, api *echo.Group, h *handlers.Handler) {
	user.GET("/vms/:id/metrics", h.VMMetrics)
	user.GET("/commons", h.ShowCommons)
	user.GET("/commons/hosts/:id/metrics", h.HostMetrics)
	user.GET("/statements", h.ShowStatements)
	user.GET("/statements/:id", h.ShowStatement)
	user.GET("/statements/:id/csv", h.StatementCSV)

	board := pages.Group("/board", handlers.RequireRole(account.RoleBoard))
	board.GET("/statements", h.ShowBoardStatements)
	board.POST("/statements/close", h.CloseStatements)
	board.POST("/statements/sepa", h.SEPAFile)
	board.POST("/statements/:id/corrections", h.CorrectStatement)
	board.POST("/costs", h.AddCost)
	board.POST("/costs/:id/reverse", h.ReverseCost)

	api.GET("/vms/:id/metrics", h.VMMetrics)
	api.GET("/commons", h.APICommons)
	api.GET("/commons/hosts/:id/metrics", h.HostMetrics)
	api.GET("/statements", h.APIStatements)
	api.GET("/statements/:id", h.APIStatement)
	onlyBoard := handlers.RequireRole(account.RoleBoard)
	api.GET("/board/statements", h.APIBoardStatements, onlyBoard)
	api.POST("/board/statements/close", h.APICloseStatements, onlyBoard)
	api.POST("/board/statements/sepa", h.APISEPAFile, onlyBoard)
	// Money-moving POSTs take an Idempotency-Key (handlers/idempotency.go).
	api.POST("/statements/:id/corrections", h.APICorrectStatement, onlyBoard, h.Idempotent)
	api.GET("/board/costs", h.APICosts, onlyBoard)
	api.POST("/board/costs", h.APIAddCost, onlyBoard, h.Idempotent)
	api.POST("/board/costs/:id/reverse", h.APIReverseCost, onlyBoard, h.Idempotent)
}
