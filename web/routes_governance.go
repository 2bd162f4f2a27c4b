package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
	"allmende/models/account"
)

// governanceRoutes are the members' self-government: the rules registry,
// proposals, general assemblies with proxies and ballots, and the board's
// pages to convene and run an assembly. user requires a signed-in account,
// api a token; who may propose, support and vote the domain decides.
func governanceRoutes(user, api *echo.Group, h *handlers.Handler) {
	user.GET("/rules", h.ShowRules)
	user.GET("/rules/:key", h.ShowRule)

	user.GET("/proposals", h.ShowProposals)
	user.GET("/proposals/new", h.ShowNewProposal)
	user.POST("/proposals/new", h.SubmitProposal)
	user.GET("/proposals/:id", h.ShowProposal)
	user.POST("/proposals/:id/comments", h.CommentOnProposal)
	user.POST("/proposals/:id/support", h.SupportProposal)

	user.GET("/assemblies", h.ShowAssemblies)
	user.GET("/assemblies/:id", h.ShowAssembly)
	user.POST("/assemblies/:id/items/:item/ballot", h.CastBallot)
	user.POST("/assemblies/:id/proxy", h.GrantProxy)
	user.POST("/assemblies/:id/proxy/revoke", h.RevokeProxy)
	user.POST("/assemblies/:id/attend", h.Attend)
	user.POST("/assemblies/:id/contributions", h.Contribute)
	user.POST("/assemblies/:id/motions/:motion/decide", h.DecideMotion)
	user.POST("/assemblies/:id/items/:item/objection", h.Object)
	user.POST("/assemblies/:id/declare", h.DeclareResults)
	user.POST("/assemblies/:id/minutes/sign", h.SignMinutes)
	user.GET("/assemblies/:id/minutes", h.ShowMinutes)
	user.GET("/assemblies/:id/minutes.md", h.MinutesMarkdown)

	user.GET("/demands", h.ShowDemands)
	user.POST("/demands", h.CreateDemand)
	user.GET("/demands/:id", h.ShowDemand)
	user.POST("/demands/:id/support", h.SupportDemand)
	user.POST("/board/registrations/:id", h.RecordRegistration, handlers.RequireRole(account.RoleBoard))

	board := user.Group("/board/assemblies", handlers.RequireRole(account.RoleBoard))
	board.GET("/new", h.ShowNewAssembly)
	board.POST("/new", h.CreateAssembly)
	board.GET("/:id", h.ShowBoardAssembly)
	board.GET("/:id/turnout", h.AssemblyTurnout)
	board.POST("/:id/items", h.AddAgendaItem)
	board.POST("/:id/invite", h.SendInvitations)
	board.POST("/:id/chair", h.SetChair)
	board.POST("/:id/items/:item/appoint", h.AppointElected)
	board.POST("/:id/open", h.OpenVoting)
	board.POST("/:id/close", h.CloseVoting)

	api.GET("/rules", h.APIRules)
	api.GET("/proposals", h.APIProposals)
	api.POST("/proposals", h.APISubmitProposal)
	api.POST("/proposals/:id/support", h.APISupportProposal)
	api.GET("/assemblies", h.APIAssemblies)
	api.GET("/assemblies/:id", h.APIAssembly)
	api.POST("/assemblies/:id/proxy", h.APIProxy)
	api.POST("/assemblies/:id/items/:item/ballot", h.APICastBallot)
	api.GET("/assemblies/:id/results", h.APIResults)
}
