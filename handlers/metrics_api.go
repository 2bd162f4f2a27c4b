package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models/metering"
)

// VMMetrics answers GET /vms/{id}/metrics?range=1h|24h|7d|30d (the VM
// page's graphs poll it) and GET /api/v1/vms/{id}/metrics: rates in MB/s
// and percent on one time axis. Another member's VM is a 404.
func (h *Handler) VMMetrics(c echo.Context) error {
	rng, err := metering.ParseRange(c.QueryParam("range"))
	if err != nil {
		return err
	}
	d, err := h.Metrics.VMSeries(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"), rng, time.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// HostMetrics answers GET /commons/hosts/{id}/metrics and the API twin:
// a host's CPU, memory and disk over time, for every member.
func (h *Handler) HostMetrics(c echo.Context) error {
	rng, err := metering.ParseRange(c.QueryParam("range"))
	if err != nil {
		return err
	}
	d, err := h.Metrics.HostSeries(c.Request().Context(), c.Param("id"), rng, time.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}
