package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
	"allmende/models/account"
)

// organRoutes are the pages of the cooperative's organs and of exclusion
// proceedings: the board and the supervisory board (which may decide an
// exclusion, or appoint the board, where the bylaws say so) use them. The
// domain checks which of the two may take each step. The role check is per
// route: a group with middleware would answer every unknown path with it.
func organRoutes(user *echo.Group, h *handlers.Handler) {
	user.POST("/membership/exclusion/:id/statement", h.SubmitExclusionStatement)

	organ := handlers.RequireAnyRole(account.RoleBoard, account.RoleSupervisory)
	user.GET("/board/organs", h.ShowOrgans, organ)
	user.POST("/board/organs/appoint", h.AppointToOrgan, organ)
	user.POST("/board/organs/:id/end", h.EndAppointment, organ)
	user.GET("/board/exclusions/:id", h.ShowExclusion, organ)
	user.POST("/board/exclusions/:id/statement", h.RecordExclusionStatement, organ)
	user.POST("/board/exclusions/:id/decision", h.DecideExclusion, organ)
	user.POST("/board/exclusions/:id/letter", h.RecordExclusionLetter, organ)
	board := handlers.RequireRole(account.RoleBoard)
	user.POST("/board/members/:id/exclusion", h.OpenExclusion, board)
	user.GET("/board/shares", h.ShowShareSubscriptions, board)
	user.POST("/board/shares/:id/admit", h.AdmitShares, board)
	user.POST("/board/shares/:id/reject", h.RejectShares, board)
	user.POST("/board/notices/:id/withdrawal", h.DecideNoticeWithdrawal, board)
	user.POST("/membership/notice/early", h.GiveEarlyNotice)
	user.POST("/membership/notice/extraordinary", h.GiveExtraordinaryNotice)
	user.GET("/membership/bylaws", h.ShowBylaws)
	user.GET("/members", h.ShowMemberList)
	user.GET("/membership/entries.txt", h.OwnEntries)
	user.GET("/membership/transfer", h.ShowTransfer)
	user.POST("/membership/transfer", h.ProposeTransfer)
	user.POST("/membership/transfer/:id/agree", h.AgreeTransfer)
	user.POST("/membership/transfer/:id/withdraw", h.WithdrawTransfer)
	user.POST("/board/transfers/:id/execute", h.ExecuteTransfer, board)
	user.POST("/board/transfers/:id/refuse", h.RefuseTransfer, board)
}
