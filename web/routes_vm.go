package web

import (
	"github.com/labstack/echo/v4"

	"allmende/handlers"
)

// vmRoutes are the members' VM pages, the console and the VM API. user
// requires a signed-in account, api a token; neither asks for a role: the
// domain lets members create VMs and shows everyone only their own (admins
// all), so another member's VM, task or key is a 404.
func vmRoutes(user, api *echo.Group, h *handlers.Handler) {
	user.GET("/vms", h.ShowVMs)
	user.GET("/vms/table", h.VMsTable)
	user.GET("/vms/new", h.ShowNewVM)
	user.POST("/vms", h.CreateVM)
	user.GET("/vms/:id", h.ShowVM)
	user.GET("/vms/:id/status", h.VMStatus)
	user.POST("/vms/:id/start", h.StartVM)
	user.POST("/vms/:id/shutdown", h.ShutdownVM)
	user.POST("/vms/:id/poweroff", h.PowerOffVM)
	user.POST("/vms/:id/reboot", h.RebootVM)
	user.POST("/vms/:id/reprovision", h.ReprovisionVM)
	user.POST("/vms/:id/resize", h.ResizeVM)
	user.POST("/vms/:id/shutdown-timeout", h.SetVMShutdownTimeout)
	user.POST("/vms/:id/auto-restart", h.SetVMAutoRestart)
	user.POST("/vms/:id/delete", h.DeleteVM)
	user.GET("/vms/:id/console", h.ShowConsole)
	user.GET("/vms/:id/console/ws", h.ConsoleSocket)
	user.POST("/vms/:id/console/ctrl-alt-del", h.SendCtrlAltDel)

	user.GET("/tasks", h.ShowTasks)
	user.GET("/tasks/:id", h.ShowTask)
	user.GET("/tasks/:id/log", h.TaskLog)
	user.POST("/tasks/:id/retry", h.RetryTask)

	user.GET("/ssh-keys", h.ShowSSHKeys)
	user.POST("/ssh-keys", h.AddSSHKey)
	user.POST("/ssh-keys/:id/delete", h.DeleteSSHKey)

	api.GET("/vms", h.APIListVMs)
	api.POST("/vms", h.APICreateVM)
	api.GET("/vms/:id", h.APIGetVM)
	api.GET("/vms/:id/replication", h.APIGetVMReplication)
	api.PATCH("/vms/:id", h.APIPatchVM)
	api.DELETE("/vms/:id", h.APIDeleteVM)
	api.POST("/vms/:id/start", h.APIStartVM)
	api.POST("/vms/:id/shutdown", h.APIShutdownVM)
	api.POST("/vms/:id/poweroff", h.APIPowerOffVM)
	api.POST("/vms/:id/reboot", h.APIRebootVM)
	api.POST("/vms/:id/reprovision", h.APIReprovisionVM)
	api.POST("/vms/:id/switchover", h.APISwitchover) // admins; the domain checks
	api.POST("/hosts/:id/failover", h.APIFailover)   // admins; the domain checks
	api.GET("/jobs/:id", h.APIGetJob)
	api.GET("/tasks", h.APITasks)
	api.GET("/plans", h.APIPlans)
	api.GET("/images", h.APIImages)
	api.GET("/ssh-keys", h.APIListSSHKeys)
	api.POST("/ssh-keys", h.APIAddSSHKey)
	api.DELETE("/ssh-keys/:id", h.APIDeleteSSHKey)
}
