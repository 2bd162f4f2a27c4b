package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/views"
)

// APIError is the stable JSON shape of every API error.
type APIError struct {
	Error APIErrorBody `json:"error"`
}

// APIErrorBody carries the status, a machine-readable code, a message for
// people, and per-field messages for invalid input.
type APIErrorBody struct {
	Status  int               `json:"status"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func codeOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnprocessableEntity:
		return "invalid"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	}
	return "internal"
}

// friendly are the page texts for errors raised by echo itself.
func friendly(status int) string {
	switch status {
	case http.StatusNotFound:
		return "There is no page at this address."
	case http.StatusMethodNotAllowed:
		return "This address does not accept that kind of request."
	case http.StatusRequestEntityTooLarge:
		return "What you sent is larger than the portal accepts."
	case http.StatusForbidden:
		return "You are not allowed to do this."
	}
	return "The portal could not handle this request. The problem has been logged."
}

// ErrorHandler turns every error into a friendly page or a JSON error and
// logs internal ones exactly once, here.
func (h *Handler) ErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	// A client that hung up needs no answer, and it is not a server error.
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		return
	}
	// A write outside a domain transaction may also meet a full disk.
	if _, ok := models.AsError(err); !ok && models.IsStorageFull(err) {
		err = models.StorageFull(err)
	}
	status, msg, fields, reason := http.StatusInternalServerError, "", map[string]string(nil), ""
	var de *models.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &de):
		status, msg, fields, reason = de.Code, de.Safe, de.Fields, de.Reason
	case errors.As(err, &he):
		status = he.Code
		msg = friendly(status)
	}
	if status >= 500 && reason != "" {
		// An expected condition (no capacity, storage full): its message
		// is for the client; the cause, if any, is logged as a warning.
		h.Log.Warn("request refused", "method", c.Request().Method, "path", c.Request().URL.Path, "reason", reason, "err", err)
	} else if status >= 500 {
		h.Log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		msg = friendly(http.StatusInternalServerError)
	}
	if msg == "" {
		msg = friendly(status)
	}

	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		code := reason
		if code == "" {
			code = codeOf(status)
		}
		body := APIError{Error: APIErrorBody{Status: status, Code: code, Message: msg, Fields: fields}}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(status)
			return
		}
		if werr := c.JSON(status, body); werr != nil {
			h.Log.Error("write error response", "err", werr)
		}
		return
	}
	if c.Get(ctxUser) == nil && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
		// No route ran, so neither did LoadUser.
		_ = h.LoadUser(func(echo.Context) error { return nil })(c)
		setLocale(c)
	}
	if de != nil && de.Safe != "" && (status < 500 || reason != "") {
		msg = safeText(c.Request().Context(), de) // the page speaks the reader's language; the API stays English
	}
	p, perr := h.page(c, views.ErrorTitle(c.Request().Context(), status), "")
	if perr != nil {
		p = views.Page{Title: http.StatusText(status)}
	}
	if werr := render(c, status, views.ErrorPage(p, status, msg)); werr != nil {
		h.Log.Error("write error page", "err", werr)
	}
}
