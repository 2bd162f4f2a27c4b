package handlers

import (
	"errors"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/views"
)

// ShowOutbox lists the mails written as .eml files.
func (h *Handler) ShowOutbox(c echo.Context) error {
	entries, err := h.Outbox.List()
	if err != nil {
		return err
	}
	p, err := h.page(c, "Outbox", "outbox")
	if err != nil {
		return err
	}
	rows := make([]views.OutboxRow, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, views.OutboxRow{File: e.File, To: e.To, Subject: e.Subject, Date: e.Date, Size: e.Size})
	}
	return render(c, http.StatusOK, views.OutboxPage(p, rows))
}

// ShowOutboxMail shows one mail as plain text.
func (h *Handler) ShowOutboxMail(c echo.Context) error {
	b, err := h.Outbox.Read(c.Param("file"))
	if errors.Is(err, fs.ErrNotExist) {
		return models.NotFoundError("mail")
	}
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", b)
}
