package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/handlers"
)

// imageUploadPath is the one route that takes bodies beyond maxBody.
const imageUploadPath = "/admin/images/upload"

// adminVMRoutes are the admins' pages for getting started, plans, images, networks, host
// settings and the reconciler's findings.
func adminVMRoutes(admin, api *echo.Group, h *handlers.Handler) {
	admin.GET("/setup", h.AdminSetup)
	admin.GET("/setup/status", h.AdminSetupStatus)
	admin.POST("/setup", h.AdminCreateStarter)

	admin.GET("/plans", h.AdminPlans)
	admin.POST("/plans", h.AdminCreatePlan)
	admin.GET("/plans/:id", h.AdminEditPlan)
	admin.POST("/plans/:id", h.AdminUpdatePlan)
	admin.POST("/plans/:id/delete", h.AdminDeletePlan)

	admin.GET("/images", h.AdminImages)
	admin.GET("/images/table", h.AdminImagesTable)
	admin.POST("/images", h.AdminRegisterImage)
	admin.POST("/images/upload", h.AdminUploadImage)
	admin.POST("/images/:id/delete", h.AdminDeleteImage)

	admin.GET("/networks", h.AdminNetworks)
	admin.POST("/networks", h.AdminCreateNetwork)
	admin.GET("/networks/:id", h.AdminEditNetwork)
	admin.POST("/networks/:id", h.AdminUpdateNetwork)
	admin.POST("/networks/:id/delete", h.AdminDeleteNetwork)

	admin.GET("/hosts/:id/settings", h.AdminHostSettings)
	admin.POST("/hosts/:id/settings", h.AdminSaveHostSettings)

	admin.GET("/drift", h.AdminDrift)

	admin.GET("/replication", h.AdminReplication)
	admin.POST("/replication/vms/:id/host", h.AdminSetReplicaHost)
	admin.POST("/replication/plans/:id", h.AdminSetPlanInterval)
	admin.POST("/replication/vms/:id/switchover", h.AdminSwitchover)
	admin.POST("/hosts/:id/drain", h.AdminDrainHost)

	admin.GET("/hosts/:id/failover", h.AdminFailover)
	admin.POST("/hosts/:id/failover", h.AdminConfirmFailover)
	admin.POST("/hosts/:id/fence", h.AdminRunFence)
}

// streamingUpload exempts an image upload from the global body limit; the
// handler streams it to disk under its own, larger limit. Only a request
// with the CSRF token in the header qualifies: the CSRF check (which runs
// before the admin role check) then never parses the body, so nobody can
// make the portal spool a huge body before the handler's limit applies.
//
// The API's upload (apiImageUploadPath) streams the same way: it has no
// CSRF check, and its handler runs only after the token and the admin
// role were checked, so only an admin's request is ever read.
func streamingUpload(c echo.Context) bool {
	req := c.Request()
	if req.Method == http.MethodPost && c.Path() == apiImageUploadPath {
		return true
	}
	return req.Method == http.MethodPost && c.Path() == imageUploadPath && req.Header.Get("X-CSRF-Token") != ""
}
