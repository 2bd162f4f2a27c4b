package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/handlers"
	"allmende/models"
	"allmende/models/account"
)

// The operator endpoints /metrics and the details of /readyz name hosts,
// routes and errors, so they are not public: on the main listener they need
// the metrics token (Prometheus' bearer_token / authorization setting), and
// --metrics-listen serves them on an address of its own, which the operator
// keeps off the internet. /healthz and the bare ready/not-ready answer of
// /readyz stay public for load balancers.

// ctxOperator marks a request allowed to see operator details.
const ctxOperator = "allmende.operator"

// operator serves --metrics-listen; nil when that is not configured.
type operator struct {
	addr string
	echo *echo.Echo
	srv  *http.Server
}

// operatorRoutes builds the router of the metrics listener.
func (s *Server) operatorRoutes(metricsHandler echo.HandlerFunc) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(ctxOperator, true) // whoever reaches this address may see everything
			c.Response().Header().Set("Cache-Control", "no-store")
			return next(c)
		}
	})
	e.GET("/metrics", metricsHandler)
	e.GET("/readyz", s.readyz)
	e.GET("/healthz", s.healthz)
	return e
}

// startOperator listens on --metrics-listen, if configured.
func (s *Server) startOperator() error {
	if s.cfg.MetricsListen == "" || s.ops == nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("--metrics-listen %s: %w", s.cfg.MetricsListen, err)
	}
	s.ops.addr = ln.Addr().String()
	s.ops.srv = &http.Server{
		Handler:           s.ops.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.ops.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "err", err)
		}
	}()
	s.log.Info("serving /metrics", "addr", s.ops.addr)
	return nil
}

// stopOperator shuts the metrics listener down.
func (s *Server) stopOperator(ctx context.Context) error {
	if s.ops == nil || s.ops.srv == nil {
		return nil
	}
	return s.ops.srv.Shutdown(ctx)
}

// MetricsAddr is the address --metrics-listen bound, or "" without one.
func (s *Server) MetricsAddr() string {
	if s.ops == nil {
		return ""
	}
	return s.ops.addr
}

// requireMetricsToken guards /metrics on the main listener. Without a
// configured token or metrics listener only a scraper on this machine
// talking to the portal directly gets it (localScrape), everyone else 404
// (the endpoint does not exist for them); with a token, 401 without the
// right bearer token.
func (s *Server) requireMetricsToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.MetricsToken == "" {
			if s.cfg.MetricsListen == "" && localScrape(c.Request()) {
				return next(c)
			}
			return echo.ErrNotFound
		}
		if !s.hasMetricsToken(c) {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return &models.Error{Code: http.StatusUnauthorized, Safe: "/metrics needs the metrics token: send Authorization: Bearer <token>"}
		}
		return next(c)
	}
}

// hasMetricsToken says whether the request carries the configured token.
// Comparing digests keeps the time taken independent of both values.
func (s *Server) hasMetricsToken(c echo.Context) bool {
	if s.cfg.MetricsToken == "" {
		return false
	}
	secret, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if !ok {
		return false
	}
	got, want := sha256.Sum256([]byte(strings.TrimSpace(secret))), sha256.Sum256([]byte(s.cfg.MetricsToken))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// seesDetails says whether /readyz may name hosts and errors: on the
// metrics listener, with the metrics token, or for a signed-in admin.
func (s *Server) seesDetails(c echo.Context) bool {
	if ok, _ := c.Get(ctxOperator).(bool); ok {
		return true
	}
	if s.hasMetricsToken(c) {
		return true
	}
	u := handlers.CurrentUser(c)
	return u != nil && u.Has(account.RoleAdmin)
}

// localScrape says whether a request comes straight from this machine: the
// peer (not a forwarded address) is a loopback address and no proxy header
// is present, because a reverse proxy on the same machine would otherwise
// turn every outside request into a local one.
func localScrape(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
