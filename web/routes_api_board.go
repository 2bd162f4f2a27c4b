package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
	"allmende/models/account"
)

// boardAPIRoutes are the API twins of the board's member pages (a
// member's record and payments, shares and notices, transfers, refunds and
// reversals), of exclusion proceedings and of the organs. Roles as on the
// pages: the organ steps are the board's and the supervisory board's.
func boardAPIRoutes(api *echo.Group, h *handlers.Handler) {
	board := handlers.RequireRole(account.RoleBoard)
	organ := handlers.RequireAnyRole(account.RoleBoard, account.RoleSupervisory)
	// Money-moving POSTs take an Idempotency-Key (handlers/idempotency.go).
	once := h.Idempotent
	api.GET("/members/:id", h.APIMember, board)
	api.POST("/members/:id/payments", h.APIRecordPayment, board, once)
	api.POST("/ledger/shares/:id/reverse", h.APIReverseShareTransaction, board, once)
	api.POST("/ledger/capital/:id/reverse", h.APIReverseCapitalTransaction, board, once)
	api.POST("/refunds/:id/paid", h.APIPayRefund, board, once)

	api.GET("/board/shares", h.APIBoardShares, board)
	api.POST("/share-subscriptions/:id/admit", h.APIAdmitShares, board)
	api.POST("/share-subscriptions/:id/reject", h.APIRejectShares, board)
	api.POST("/notices/:id/withdrawal", h.APIDecideNoticeWithdrawal, board)
	api.POST("/transfers/:id/execute", h.APIExecuteTransfer, board, once)
	api.POST("/transfers/:id/refuse", h.APIRefuseTransfer, board)

	api.POST("/members/:id/exclusion", h.APIOpenExclusion, board)
	api.GET("/exclusions/:id", h.APIExclusion, organ)
	api.POST("/exclusions/:id/statement", h.APIExclusionStatement, organ)
	api.POST("/exclusions/:id/decision", h.APIDecideExclusion, organ)
	api.POST("/exclusions/:id/letter", h.APIExclusionLetter, organ)

	api.GET("/organs", h.APIOrgans, organ)
	api.POST("/organs/appointments", h.APIAppoint, organ)
	api.POST("/organs/appointments/:id/end", h.APIEndAppointment, organ)
}

// assemblyAPIRoutes are the API twins of the board's assembly pages.
func assemblyAPIRoutes(api *echo.Group, h *handlers.Handler) {
	board := handlers.RequireRole(account.RoleBoard)
	api.POST("/assemblies", h.APICreateAssembly, board)
	api.POST("/assemblies/:id/items", h.APIAddAgendaItem, board)
	api.POST("/assemblies/:id/chair", h.APISetChair, board)
	api.POST("/assemblies/:id/invitations", h.APISendInvitations, board)
	api.POST("/assemblies/:id/open", h.APIOpenVoting, board)
	api.POST("/assemblies/:id/close", h.APICloseVoting, board)
	api.POST("/assemblies/:id/items/:item/close", h.APICloseRound, board)
	api.POST("/assemblies/:id/items/:item/runoff", h.APIOpenRunoff, board)
	api.POST("/assemblies/:id/items/:item/appoint", h.APIAppointElected, board)
}
