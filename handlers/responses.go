// Responses shared by several pages: flashes with a redirect, refusals, error text.

package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models"
)

// flashTo adds a flash message of kind and redirects to to.
func (h *Handler) flashTo(c echo.Context, kind, msg, to string) error {
	if err := h.Sessions.AddFlash(c, kind, msg); err != nil {
		return err
	}
	return redirect(c, to)
}

// errText is the client-safe text of a domain error, with its field
// messages when the error is about input.
func errText(err error) string {
	de, ok := models.AsError(err)
	if !ok {
		return "Something went wrong."
	}
	if len(de.Fields) == 0 {
		return de.Safe
	}
	parts := make([]string, 0, len(de.Fields))
	for _, m := range de.Fields {
		parts = append(parts, m)
	}
	return strings.Join(parts, " ")
}

// refused answers a domain refusal of a button with a flash on the page
// the button was on. "Not found" stays a 404, so that another member's ids
// cannot be probed, and internal errors stay errors.
func (h *Handler) refused(c echo.Context, err error, back string) error {
	de, ok := models.AsError(err)
	if !ok || de.Code == http.StatusNotFound {
		return err
	}
	return h.flashTo(c, "error", errText(err), back)
}
