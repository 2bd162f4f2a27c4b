package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
)

// memberRoutes are the pages and API endpoints of a member's own
// membership. user requires a signed-in account; api a token. Neither asks
// for the member role: applicants, and members who are leaving or have
// left, keep reading their own record; the domain decides what each may do.
func memberRoutes(user, api *echo.Group, h *handlers.Handler) {
	user.GET("/membership", h.ShowMembership)
	user.GET("/membership/apply", h.ShowJoin)
	user.POST("/membership/apply", h.ApplyForMembership)
	user.POST("/membership/shares", h.SubscribeShares)
	user.POST("/membership/notice", h.GiveNotice)
	user.POST("/membership/notice/:id/withdraw", h.WithdrawNotice)
	user.GET("/membership/address", h.ShowMembershipAddress)
	user.POST("/membership/address", h.UpdateMembershipAddress)
	user.GET("/membership/export", h.ExportPersonalData)

	api.GET("/membership", h.APIMembership)
	api.POST("/membership/application", h.APIApplyForMembership)
	api.POST("/membership/shares", h.APISubscribeShares)
	api.POST("/membership/notice", h.APIGiveNotice)
}
