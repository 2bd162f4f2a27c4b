package handlers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/account"
)

// HeaderIdempotencyKey names the header of the money-moving POSTs.
const HeaderIdempotencyKey = "Idempotency-Key"

// Idempotent makes a POST of the API safe to repeat: with an
// Idempotency-Key header the first request under the key is carried out
// and its answer kept (account.IdempotencyKeys); the same request again
// gets that answer again, the key with another request 422. Without the
// header the request is carried out as always. It runs after the role
// check, so a refusal for the role is not kept.
func (h *Handler) Idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.Request().Header.Get(HeaderIdempotencyKey)
		u := CurrentUser(c)
		if key == "" || u == nil || h.Idempotency == nil {
			return next(c)
		}
		req := c.Request()
		body, err := io.ReadAll(req.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return echo.ErrStatusRequestEntityTooLarge
			}
			return &models.Error{Code: http.StatusBadRequest, Safe: "the body cannot be read", Err: err}
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		ctx := req.Context()
		prev, err := h.Idempotency.Claim(ctx, u.ID, key, account.RequestHash(req.Method, req.URL.Path, body))
		if err != nil {
			return err
		}
		if prev != nil {
			c.Response().Header().Set("Idempotent-Replayed", "true")
			if prev.ContentType == "" && len(prev.Body) == 0 {
				// A 204 again: Blob would send an empty Content-Type,
				// which net/http fills in as text/plain.
				return c.NoContent(prev.Status)
			}
			return c.Blob(prev.Status, prev.ContentType, prev.Body)
		}
		rec := &answerRecorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		kept := false
		defer func() {
			// A panic (answered 500 by the recover middleware) frees the
			// key too, rather than leaving it "being answered" for a day.
			if !kept {
				_ = h.Idempotency.Release(context.WithoutCancel(ctx), u.ID, key)
			}
		}()
		// The error is written here, through the recorder, so that a
		// refusal (a 422 for the amount) is kept as the answer as well.
		if err := next(c); err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		if status >= 500 {
			// The server failed, not the request: the retry is carried out.
			return nil
		}
		// Carried out: from here the key is never freed, even when keeping
		// the answer fails (a retry then gets 409, not a second booking).
		kept = true
		return h.Idempotency.Finish(ctx, u.ID, key, account.StoredAnswer{Status: status,
			ContentType: c.Response().Header().Get(echo.HeaderContentType), Body: rec.body.Bytes()})
	}
}

// answerRecorder passes an answer through and keeps a copy of its body.
type answerRecorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *answerRecorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
