package web

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz says the process is alive; it touches nothing else.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether the portal can serve: the database answers, changes
// can be saved (storage not full) and every registered libvirt host is
// reachable. Everyone gets the status (200 or
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
	if full, err := s.storageFull(ctx); err != nil {
		checks["storage"], ready = err.Error(), false
	} else if full {
		checks["storage"], ready = "full", false
	} else {
		checks["storage"] = "ok"
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

// minFreeBytes is the free space below which the data dir counts as full:
// SQLite, its WAL, uploads and the mail outbox all live there.
const minFreeBytes = 1 << 20

// storageFull says whether changes cannot be saved: the data dir's file
// system is (nearly) full, or the database says so (models.DB.StorageFull).
func (s *Server) storageFull(ctx context.Context) (bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.cfg.DataDir, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", s.cfg.DataDir, err)
	}
	if st.Bavail*uint64(st.Bsize) < minFreeBytes {
		return true, nil
	}
	return s.db.StorageFull(ctx)
}
