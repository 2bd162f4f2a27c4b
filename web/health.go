package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz says the process is alive; it touches nothing else.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether the portal can serve: the database answers and every
// registered libvirt host is reachable. Everyone gets the status (200 or
// 503); which check failed, naming hosts and errors, only those who may see
// operator details (seesDetails).
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	if err := s.db.Ping(ctx); err != nil {
		checks["database"], ready = err.Error(), false
	} else {
		checks["database"] = "ok"
	}
	hosts, err := s.hosts.List(ctx)
	if err != nil {
		checks["hosts"], ready = err.Error(), false
	}
	for _, h := range hosts {
		if err := s.hv.Ping(ctx, h.URI); err != nil {
			checks["host "+h.Name], ready = err.Error(), false
		} else {
			checks["host "+h.Name] = "ok"
		}
	}
	status, word := http.StatusOK, "ready"
	if !ready {
		status, word = http.StatusServiceUnavailable, "not ready"
	}
	if !s.seesDetails(c) {
		return c.JSON(status, map[string]any{"status": word})
	}
	return c.JSON(status, map[string]any{"status": word, "checks": checks})
}
