package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
)

// moderationRoutes: the public abuse intake and report status, members'
// reports, sanctions and appeals, the panel, the appeals committee. The
// domain (models/moderation) decides who may do what: staff for the
// panel, the elected committee for appeals, the member for own sanctions.
func moderationRoutes(pages, user, authed *echo.Group, h *handlers.Handler) {
	pages.GET("/abuse", h.ShowAbuse)
	pages.POST("/abuse", h.PostAbuse)
	pages.GET("/reports/:ref", h.ShowReportStatus)
	// The public API (POST /api/v1/abuse-reports, GET …/{ref}) is in routes.go.

	user.GET("/report", h.ShowReport)
	user.POST("/report", h.PostReport)
	user.GET("/sanctions", h.ShowSanctions)
	user.POST("/sanctions/:id/appeal", h.PostAppeal)
	user.GET("/transparency", h.ShowTransparency)
	user.GET("/moderation", h.ShowCases)
	user.GET("/moderation/cases/:id", h.ShowCase)
	user.GET("/moderation/cases/:id/log", h.ShowCaseLog)
	for _, a := range []string{"assign", "note", "dismiss", "sanction"} {
		user.POST("/moderation/cases/:id/"+a, h.PostCaseAction(a))
	}
	user.POST("/moderation/sanctions/:id/confirm", h.PostSanctionAction("confirm"))
	user.POST("/moderation/sanctions/:id/lift", h.PostSanctionAction("lift"))
	user.GET("/board/motions", h.ShowMotions)
	user.GET("/appeals", h.ShowAppeals)
	user.POST("/appeals/:id/decide", h.PostDecision)

	authed.POST("/reports", h.APIReport)
	authed.GET("/reports", h.APIMyReports)
	authed.GET("/sanctions", h.APIMySanctions)
	authed.POST("/sanctions/:id/appeal", h.APIAppealSanction)
	authed.GET("/appeals", h.APIAppeals)
	authed.POST("/appeals/:id/decision", h.APIDecideAppeal)
	authed.GET("/moderation/report", h.APITransparency)
	authed.GET("/moderation/cases", h.APICases)
	authed.GET("/moderation/cases/:id", h.APICase)
	authed.POST("/moderation/cases/:id/assign", h.APICaseAction("assign"))
	authed.POST("/moderation/cases/:id/notes", h.APICaseAction("note"))
	authed.POST("/moderation/cases/:id/dismiss", h.APICaseAction("dismiss"))
	authed.POST("/moderation/cases/:id/close", h.APICaseAction("close"))
	authed.POST("/moderation/cases/:id/sanctions", h.APISanction)
	authed.POST("/moderation/sanctions/:id/confirm", h.APIConfirmSanction)
	authed.POST("/moderation/sanctions/:id/lift", h.APILiftSanction)
}
