package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
	"allmende/models/account"
)

// boardRoutes are the board's pages and API endpoints.
func boardRoutes(pages, api *echo.Group, h *handlers.Handler) {
	board := pages.Group("/board", handlers.RequireRole(account.RoleBoard))
	board.GET("/applications", h.ShowApplications)
	board.GET("/applications/:id", h.ShowApplication)
	board.POST("/applications/:id/approve", h.ApproveApplication)
	board.POST("/applications/:id/reject", h.RejectApplication)
	board.GET("/members", h.ShowMemberRegister)
	board.GET("/members.csv", h.MemberRegisterCSV)
	board.GET("/members/:id", h.ShowBoardMember)
	board.POST("/members/:id/payments", h.RecordPayment)
	board.POST("/ledger/shares/:id/reverse", h.ReverseShareTransaction)
	board.POST("/ledger/capital/:id/reverse", h.ReverseCapitalTransaction)
	board.POST("/refunds/:id/paid", h.PayRefund)

	onlyBoard := handlers.RequireRole(account.RoleBoard)
	api.GET("/applications", h.APIApplications, onlyBoard)
	api.POST("/applications/:id/admit", h.APIAdmit, onlyBoard)
	api.POST("/applications/:id/reject", h.APIReject, onlyBoard)
	api.GET("/members", h.APIMembers, onlyBoard)
}
