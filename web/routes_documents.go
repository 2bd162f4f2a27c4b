package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"allmende/handlers"
	"allmende/models/account"
	"allmende/models/governance"
)

// documentUploadPath takes documents of an annual assembly (§48 GenG),
// larger than the portal's general body limit: the route has its own.
const documentUploadPath = "/board/assemblies/:id/documents"

// apiDocumentUploadPath takes the same documents through the API, the file
// as the body, under the same limit.
const apiDocumentUploadPath = "/api/v1/assemblies/:id/documents"

// documentUpload lets the document upload past the general body limit to
// its own (the document's limit and room for the form around it).
func documentUpload(c echo.Context) bool {
	return c.Request().Method == http.MethodPost && (c.Path() == documentUploadPath || c.Path() == apiDocumentUploadPath)
}

// documentBodyLimit bounds the document upload before anything (the CSRF
// check) reads its form: the document's limit and 1 MiB for the rest.
func documentBodyLimit() echo.MiddlewareFunc {
	return middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit:   strconv.Itoa(governance.MaxDocumentBytes>>20+1) + "M",
		Skipper: func(c echo.Context) bool { return !documentUpload(c) },
	})
}

func documentRoutes(user, api *echo.Group, h *handlers.Handler) {
	board := handlers.RequireRole(account.RoleBoard)
	user.GET(documentUploadPath, h.ShowAssemblyDocuments, board)
	user.POST(documentUploadPath, h.UploadAssemblyDocument, board)
	user.POST("/board/assemblies/:id/documents/:doc/remove", h.RemoveAssemblyDocument, board)
	user.GET("/assemblies/:id/documents/:doc", h.AssemblyDocument)

	api.GET("/assemblies/:id/documents", h.APIAssemblyDocuments)
	api.POST("/assemblies/:id/documents", h.APIUploadAssemblyDocument, board)
	api.GET("/assemblies/:id/documents/:doc", h.APIAssemblyDocument)
	api.DELETE("/assemblies/:id/documents/:doc", h.APIRemoveAssemblyDocument, board)
	api.POST("/assemblies/:id/declare", h.APIDeclareResults)
	api.POST("/assemblies/:id/minutes/sign", h.APISignMinutes)
}
