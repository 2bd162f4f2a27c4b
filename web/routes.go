package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"allmende/handlers"
	"allmende/models/account"
	"allmende/static"
)

// maxBody bounds every request body but image uploads, which stream to
// disk under the upload handler's own limit (see streamingUpload).
const maxBody = "1M"

func (s *Server) routes(h *handlers.Handler, m *metrics) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = h.ErrorHandler
	// Without a trusted proxy the client address is the TCP peer: a forged
	// X-Forwarded-For must not dodge the per-IP login limit.
	e.IPExtractor = echo.ExtractIPDirect()
	if s.cfg.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}

	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true}))
	e.Use(m.middleware)
	e.Use(securityHeaders)
	e.Use(noStore)
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: maxBody, Skipper: streamingUpload}))

	e.GET("/healthz", s.healthz)
	// Operator endpoints: see operator.go.
	metricsHandler := echo.WrapHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	e.GET("/readyz", s.readyz, h.LoadUser)
	e.GET("/metrics", metricsHandler, s.requireMetricsToken)
	if s.cfg.MetricsListen != "" {
		s.ops = &operator{echo: s.operatorRoutes(metricsHandler)}
	}
	e.GET("/static/*", staticHandler())

	api := e.Group("/api/v1")
	api.GET("/openapi.json", h.OpenAPI)
	authed := api.Group("", h.APIAuth)
	authed.GET("/me", h.APIMe)
	authed.GET("/hosts", h.APIHosts, handlers.RequireRole(account.RoleAdmin))
	// Registered before the catch-all below; the other areas' API routes
	// are added later and still win over it (echo prefers static paths).
	api.POST("/abuse-reports", h.APIAbuseReport)
	api.GET("/abuse-reports/:ref", h.APIReportStatus)
	api.Any("/*", func(echo.Context) error { return echo.ErrNotFound })

	pages := e.Group("", h.LoadUser, h.CSRF)
	pages.GET("/", h.Home)
	pages.GET("/register", h.ShowRegister)
	pages.POST("/register", h.Register)
	pages.GET("/register/confirm", h.ShowRegisterConfirm)
	pages.POST("/register/confirm", h.ConfirmRegistration)
	pages.GET("/login", h.ShowLogin)
	pages.POST("/login", h.Login)
	pages.POST("/logout", h.Logout)

	user := pages.Group("", handlers.RequireUser)
	user.GET("/account", h.ShowAccount)
	user.POST("/account/password", h.ChangePassword)
	user.POST("/account/tokens", h.CreateToken)
	user.POST("/account/tokens/:id/revoke", h.RevokeToken)
	user.POST("/account/sessions/end-all", h.EndAllSessions)
	user.POST("/account/sessions/:id/end", h.EndSession)

	admin := pages.Group("/admin", handlers.RequireRole(account.RoleAdmin))
	admin.GET("/hosts", h.ShowHosts)
	admin.GET("/hosts/table", h.HostsTable)
	admin.POST("/hosts", h.AddHost)
	admin.POST("/hosts/:id/refresh", h.RefreshHost)
	admin.GET("/audit", h.ShowAudit)
	admin.GET("/logins", h.ShowLogins)
	admin.GET("/outbox", h.ShowOutbox)
	admin.GET("/outbox/:file", h.ShowOutboxMail)

	memberRoutes(user, authed, h)
	boardRoutes(pages, authed, h)
	governanceRoutes(user, authed, h)
	vmRoutes(user, authed, h)
	adminVMRoutes(admin, authed, h)
	moderationRoutes(pages, user, authed, h)

	// Unknown pages still get the session, so the 404 page shows the
	// navigation of the signed-in user.
	pages.Any("/*", func(echo.Context) error { return echo.ErrNotFound })
	return e
}

// securityHeaders allows only self-hosted assets and forbids framing.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hdr := c.Response().Header()
		hdr.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Referrer-Policy", "same-origin")
		if c.Scheme() == "https" {
			hdr.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// noStore keeps every answer but the static assets out of caches: pages
// and API answers are personal, and the back button after logout must not
// show them from the browser's cache. staticHandler sets its own caching.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			c.Response().Header().Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

func staticHandler() echo.HandlerFunc {
	files := http.StripPrefix("/static/", http.FileServerFS(static.FS()))
	return func(c echo.Context) error {
		if strings.HasSuffix(c.Request().URL.Path, "/") {
			return echo.ErrNotFound // no directory listings
		}
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
