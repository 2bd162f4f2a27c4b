// Responses shared by several pages: flashes with a redirect, refusals, error text.

package handlers

import (
	"context"
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
func errText(ctx context.Context, err error) string {
	de, ok := models.AsError(err)
	if !ok {
		return "Something went wrong."
	}
	if len(de.Fields) == 0 {
		return safeText(ctx, de)
	}
	fields := fieldTexts(ctx, de)
	parts := make([]string, 0, len(fields))
	for _, m := range fields {
		parts = append(parts, m)
	}
	return strings.Join(parts, " ")
}

// safeText is a domain error's message in the reader's language. A
// message with parts filled in (models.Msg) is translated from its English
// format; a fixed one is left to the view, which translates every message
// it shows.
func safeText(ctx context.Context, de *models.Error) string {
	if m, ok := de.Msgs[""]; ok {
		return m.Text(ctx)
	}
	return de.Safe
}

// fieldTexts are a domain error's field messages in the reader's language
// (see safeText).
func fieldTexts(ctx context.Context, de *models.Error) map[string]string {
	if len(de.Msgs) == 0 {
		return de.Fields
	}
	out := make(map[string]string, len(de.Fields))
	for name, text := range de.Fields {
		if m, ok := de.Msgs[name]; ok {
			text = m.Text(ctx)
		}
		out[name] = text
	}
	return out
}

// refused answers a domain refusal of a button with a flash on the page
// the button was on. "Not found" stays a 404, so that another member's ids
// cannot be probed, and internal errors stay errors.
func (h *Handler) refused(c echo.Context, err error, back string) error {
	de, ok := models.AsError(err)
	if !ok || de.Code == http.StatusNotFound {
		return err
	}
	return h.flashTo(c, "error", errText(c.Request().Context(), err), back)
}
