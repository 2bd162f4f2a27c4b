package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/views"
)

// ShowShareSubscriptions lists declarations of further shares (§15b GenG).
func (h *Handler) ShowShareSubscriptions(c echo.Context) error {
	subs, err := h.Members.PendingSubscriptions(c.Request().Context())
	if err != nil {
		return err
	}
	wds, err := h.Members.PendingWithdrawals(c.Request().Context())
	if err != nil {
		return err
	}
	ts, err := h.Members.AgreedTransfers(c.Request().Context())
	if err != nil {
		return err
	}
	p, err := h.page(c, "Shares and notices", "shares")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.SharesPage(p, subs, wds, ts))
}

// AdmitShares admits a declaration of further shares.
func (h *Handler) AdmitShares(c echo.Context) error {
	if err := h.Members.AdmitShares(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return h.refused(c, err, "/board/shares")
	}
	return h.flashTo(c, "success", "Shares admitted and booked.", "/board/shares")
}

// RejectShares rejects a declaration of further shares with a reason.
func (h *Handler) RejectShares(c echo.Context) error {
	if err := h.Members.RejectShares(c.Request().Context(), actor(c), c.Param("id"), c.FormValue("reason")); err != nil {
		return h.refused(c, err, "/board/shares")
	}
	return h.flashTo(c, "success", "Declaration rejected; the member has been told why.", "/board/shares")
}

// DecideNoticeWithdrawal accepts or refuses a request to withdraw a notice.
func (h *Handler) DecideNoticeWithdrawal(c echo.Context) error {
	accept := c.FormValue("accept") == "yes"
	if err := h.Members.DecideNoticeWithdrawal(c.Request().Context(), actor(c), c.Param("id"), accept); err != nil {
		return h.refused(c, err, "/board/shares")
	}
	msg := "The notice is withdrawn."
	if !accept {
		msg = "The withdrawal is refused; the notice stays in force."
	}
	return h.flashTo(c, "success", msg, "/board/shares")
}

// ExecuteTransfer carries out an agreed transfer of capital (§76 GenG).
func (h *Handler) ExecuteTransfer(c echo.Context) error {
	if err := h.Members.ExecuteTransfer(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return h.refused(c, err, "/board/shares")
	}
	return h.flashTo(c, "success", "The transfer has been carried out.", "/board/shares")
}

// RefuseTransfer turns an agreed transfer down.
func (h *Handler) RefuseTransfer(c echo.Context) error {
	if err := h.Members.RefuseTransfer(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return h.refused(c, err, "/board/shares")
	}
	return h.flashTo(c, "success", "The transfer has been refused.", "/board/shares")
}
