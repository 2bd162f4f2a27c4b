package handlers

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openapiDoc is the API contract, written by hand and checked by a test
// against the routes that exist.
//
//go:embed openapi.json
var openapiDoc []byte

// OpenAPI serves the OpenAPI document.
func (h *Handler) OpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/json", openapiDoc)
}
