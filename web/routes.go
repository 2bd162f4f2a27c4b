package web

import (
	"io"
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

	// Pre: these run before routing, so they also wrap the 404 and 405
	// answers that methodNotAllowed gives before any route is chosen.
	e.Pre(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true}))
	e.Pre(m.middleware)
	e.Pre(securityHeaders)
	e.Pre(noStore)
	e.Pre(headAsGet, methodNotAllowed(e))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: maxBody, Skipper: func(c echo.Context) bool { return streamingUpload(c) || documentUpload(c) }}))
	e.Use(documentBodyLimit())
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{Skipper: notCompressed, MinLength: 1024}))

	e.GET("/healthz", s.healthz)
	// Operator endpoints: see operator.go.
	metricsHandler := echo.WrapHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	e.GET("/readyz", s.readyz, h.LoadUser)
	e.GET("/metrics", metricsHandler, s.requireMetricsToken)
	if s.cfg.MetricsListen != "" {
		s.ops = &operator{echo: s.operatorRoutes(metricsHandler)}
	}
	e.GET("/static/*", staticHandler())
	e.GET("/favicon.ico", func(c echo.Context) error {
		c.Request().URL.Path = "/static/favicon.ico"
		return staticHandler()(c)
	})

	api := e.Group("/api/v1")
	api.GET("/openapi.json", h.OpenAPI)
	authed := api.Group("", h.APIAuth)
	authed.GET("/me", h.APIMe)
	authed.GET("/hosts", h.APIHosts, handlers.RequireRole(account.RoleAdmin))
	api.POST("/abuse-reports", h.APIAbuseReport)
	api.GET("/abuse-reports/:ref", h.APIReportStatus)

	pages := e.Group("", h.LoadUser, h.Locale, h.CSRF)
	pages.GET("/", h.Home)
	pages.GET("/register", h.ShowRegister)
	pages.POST("/register", h.Register)
	pages.GET("/register/confirm", h.ShowRegisterConfirm)
	pages.POST("/register/confirm", h.ConfirmRegistration)
	pages.GET("/login", h.ShowLogin)
	pages.POST("/login", h.Login)
	pages.POST("/logout", h.Logout)
	pages.GET("/password/forgot", h.ShowForgotPassword)
	pages.POST("/password/forgot", h.ForgotPassword)
	pages.GET("/password/reset", h.ShowResetPassword)
	pages.POST("/password/reset", h.ResetPassword)
	pages.POST("/language", h.SetLanguage)

	user := pages.Group("", handlers.RequireUser)
	user.GET("/account", h.ShowAccount)
	user.POST("/account/password", h.ChangePassword)
	user.POST("/account/preferences", h.SavePreferences)
	user.POST("/account/tokens", h.CreateToken)
	user.POST("/account/tokens/:id/revoke", h.RevokeToken)
	user.POST("/account/sessions/end-all", h.EndAllSessions)
	user.POST("/account/sessions/:id/end", h.EndSession)
	user.POST("/account/mail", h.SaveMailPreferences)
	user.GET("/notifications", h.ShowNotifications)
	user.POST("/notifications/read-all", h.MarkAllNotificationsRead)
	user.POST("/notifications/:id/read", h.MarkNotificationRead)
	authed.GET("/notifications", h.APINotifications)
	authed.POST("/notifications/read-all", h.APIMarkAllNotificationsRead)
	authed.POST("/notifications/:id/read", h.APIMarkNotificationRead)

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
	runoffRoutes(user, h)
	ballotRoutes(user, authed, h)
	vmRoutes(user, authed, h)
	adminVMRoutes(admin, authed, h)
	adminAPIRoutes(authed, h)
	boardAPIRoutes(authed, h)
	assemblyAPIRoutes(authed, h)
	organRoutes(user, h)
	documentRoutes(user, authed, h)
	moderationRoutes(pages, user, authed, h)

	commonsRoutes(pages, user, authed, h)

	// No catch-all route (see methodNotAllowed). Unknown paths reach the
	// error handler, which loads the session itself so the 404 page shows
	// the signed-in user's navigation.
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

// staticHandler serves the embedded assets. A content-hashed address
// (static.URL) never changes its answer, so it is cached for a year as
// immutable; a plain address may, so it is revalidated after an hour.
func staticHandler() echo.HandlerFunc {
	return func(c echo.Context) error {
		p := strings.TrimPrefix(c.Request().URL.Path, "/static/")
		if p == "" || strings.HasSuffix(p, "/") {
			return echo.ErrNotFound // no directory listings
		}
		name, hashed := static.Resolve(p)
		f, err := static.FS().Open(name)
		if err != nil {
			return echo.ErrNotFound
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil || info.IsDir() {
			return echo.ErrNotFound
		}
		if hashed {
			c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		}
		http.ServeContent(c.Response(), c.Request(), name, info.ModTime(), f.(io.ReadSeeker))
		return nil
	}
}

// notCompressed lists the answers gzip must leave alone: the console's
// WebSocket (a hijacked connection), image uploads and downloads that
// stream large binary data, and the Prometheus scrape (it negotiates its own).
func notCompressed(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasSuffix(p, "/ws") || strings.Contains(p, "/console") ||
		streamingUpload(c) || p == "/metrics"
}

// headAsGet answers HEAD wherever GET answers (RFC 9110 §9.3.2): it routes
// the request as a GET and drops the body, keeping status and headers.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodHead {
			return next(c)
		}
		r.Method = http.MethodGet
		res := c.Response()
		res.Writer = headWriter{res.Writer}
		return next(c)
	}
}

// headWriter passes headers and status through and discards the body.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(b []byte) (int, error) { return len(b), nil }
