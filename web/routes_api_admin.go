package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
	"allmende/models/account"
)

// apiImageUploadPath streams an image file as the body, past maxBody.
const apiImageUploadPath = "/api/v1/images/upload"

// adminAPIRoutes are the API twins of the admins' catalogue pages: plans,
// images, networks, hosts and their VM settings. The role check is per
// route (a group with middleware would answer unknown paths with it); the
// domain checks the admin role again.
func adminAPIRoutes(api *echo.Group, h *handlers.Handler) {
	admin := handlers.RequireRole(account.RoleAdmin)
	api.POST("/plans", h.APICreatePlan, admin)
	api.GET("/plans/:id", h.APIGetPlan)
	api.PUT("/plans/:id", h.APIUpdatePlan, admin)
	api.DELETE("/plans/:id", h.APIDeletePlan, admin)

	api.POST("/images", h.APIRegisterImage, admin)
	api.POST("/images/upload", h.APIUploadImage, admin)
	api.GET("/images/:id", h.APIGetImage)
	api.DELETE("/images/:id", h.APIDeleteImage, admin)

	api.GET("/networks", h.APINetworks, admin)
	api.POST("/networks", h.APICreateNetwork, admin)
	api.GET("/networks/:id", h.APIGetNetwork, admin)
	api.PUT("/networks/:id", h.APIUpdateNetwork, admin)
	api.DELETE("/networks/:id", h.APIDeleteNetwork, admin)

	api.POST("/hosts", h.APIAddHost, admin)
	api.GET("/hosts/:id", h.APIGetHost, admin)
	api.POST("/hosts/:id/refresh", h.APIRefreshHost, admin)
	api.GET("/hosts/:id/settings", h.APIHostSettings, admin)
	api.PUT("/hosts/:id/settings", h.APISetHostSettings, admin)
	api.POST("/hosts/:id/drain", h.APIDrainHost, admin)

	api.GET("/admin/setup", h.APIStarter, admin)
	api.POST("/admin/setup", h.APICreateStarter, admin)

	api.GET("/admin/replication", h.APIReplication, admin)
	api.PUT("/plans/:id/replication-interval", h.APISetPlanInterval, admin)
	api.PUT("/vms/:id/replica-host", h.APISetReplicaHost, admin)
}
