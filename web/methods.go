package web

import (
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// checkedMethods are the methods a 405's Allow header can list (HEAD is
// added wherever GET answers, see headAsGet; OPTIONS is answered here).
var checkedMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// methodNotAllowed answers a method that a path does not have with 405 and
// an Allow header (RFC 9110 §15.5.6), and OPTIONS with the Allow header.
// echo's router would do so itself, but every group with middleware
// registers catch-all not-found routes, which echo prefers to its 405 —
// and behind which the group's sign-in and CSRF checks would answer first.
// It runs before routing (e.Pre) and asks the router, as a request would;
// a path with no route for any method is a 404 here for the same reason.
func methodNotAllowed(e *echo.Echo) echo.MiddlewareFunc {
	// "METHOD path" of every real route; not-found routes are left out.
	routes := sync.OnceValue(func() map[string]bool {
		m := map[string]bool{}
		for _, r := range e.Routes() {
			if r.Method != echo.RouteNotFound {
				m[r.Method+" "+r.Path] = true
			}
		}
		return m
	})
	routed := func(method, path string) bool {
		c := e.AcquireContext()
		defer e.ReleaseContext(c)
		c.Reset(nil, nil)
		e.Router().Find(method, path, c)
		return routes()[method+" "+c.Path()]
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			path := echo.GetPath(r)
			if r.Method != http.MethodOptions && routed(r.Method, path) {
				return next(c)
			}
			var allow []string
			for _, m := range checkedMethods {
				if routed(m, path) {
					allow = append(allow, m)
				}
			}
			if len(allow) == 0 {
				// Nothing here, whoever asks: a 404 before any group's
				// sign-in check, which would answer 401 instead.
				return echo.ErrNotFound
			}
			if slices.Contains(allow, http.MethodGet) {
				allow = append(allow, http.MethodHead)
			}
			allow = append(allow, http.MethodOptions)
			c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
			if r.Method == http.MethodOptions {
				return c.NoContent(http.StatusNoContent)
			}
			return echo.ErrMethodNotAllowed
		}
	}
}
