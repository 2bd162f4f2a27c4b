package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
	"allmende/models/account"
)

// ballotRoutes are the verifiable secret ballots (docs/ballots.md): the
// election page, the JSON calls of the trustees' and voters' browsers
// (session and X-CSRF-Token), the board's naming of trustees and end of
// the vote, the published election record, and their API twins.
func ballotRoutes(user, api *echo.Group, h *handlers.Handler) {
	user.GET("/assemblies/:id/election", h.ShowElection)
	user.GET("/assemblies/:id/election/state", h.ElectionState)
	user.POST("/assemblies/:id/election/register", h.RegisterTrustee)
	user.POST("/assemblies/:id/election/deal", h.DealShares)
	user.POST("/assemblies/:id/election/confirm", h.ConfirmTrustee)
	user.POST("/assemblies/:id/election/decrypt", h.SubmitDecryption)
	user.POST("/assemblies/:id/items/:item/encrypted-ballot", h.CastEncryptedBallot)
	user.GET("/assemblies/:id/election.json", h.ElectionRecord)

	board := user.Group("/board/assemblies", handlers.RequireRole(account.RoleBoard))
	board.POST("/:id/election", h.SetUpElection)
	board.POST("/:id/end", h.EndVoting)

	api.GET("/assemblies/:id/election", h.APIElection)
	api.POST("/assemblies/:id/election", h.APISetUpElection, handlers.RequireRole(account.RoleBoard))
	api.POST("/assemblies/:id/items/:item/encrypted-ballot", h.APICastEncryptedBallot)
	api.GET("/assemblies/:id/election/record", h.ElectionRecord)
}
