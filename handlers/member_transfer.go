package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models/membership"
	"allmende/views"
)

// ShowTransfer is the member's form to transfer capital (§76 GenG).
func (h *Handler) ShowTransfer(c echo.Context) error {
	return h.renderTransfer(c, http.StatusOK, views.Form{Values: map[string]string{}})
}

func (h *Handler) renderTransfer(c echo.Context, status int, f views.Form) error {
	o, err := h.Members.Overview(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Transfer capital", "membership")
	if err != nil {
		return err
	}
	return render(c, status, views.TransferPage(p, o, f))
}

// ProposeTransfer shows the agreement for the receiver and shares typed,
// and records it once the member confirmed it.
func (h *Handler) ProposeTransfer(c echo.Context) error {
	f := formOf(c, "to", "shares", "confirm")
	to, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(f.Value("to")), "#"), 10, 64)
	if err != nil || to <= 0 {
		fieldErr(&f, "to", "Enter the member number of the member who receives the capital.")
	}
	shares := 0
	if v := strings.TrimSpace(f.Value("shares")); v != "" {
		if shares, err = strconv.Atoi(v); err != nil || shares < 0 {
			fieldErr(&f, "shares", "Enter a number of shares, or leave it empty for the whole capital.")
		}
	}
	if len(f.Errors) > 0 {
		return h.renderTransfer(c, http.StatusUnprocessableEntity, f)
	}
	ctx, userID := c.Request().Context(), CurrentUser(c).ID
	in := membership.TransferInput{ToMemberNumber: to, Shares: shares, Confirm: f.Value("confirm") == "yes"}
	text, err := h.Members.PreviewTransfer(ctx, userID, in)
	if err == nil && c.FormValue("step") != "confirm" {
		f.Values["agreement"] = text
		return h.renderTransfer(c, http.StatusOK, f)
	}
	if err == nil {
		_, err = h.Members.ProposeTransfer(ctx, actor(c), userID, in)
	}
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		if f.Err("confirm") != "" {
			f.Values["agreement"] = text
		}
		return h.renderTransfer(c, status, f)
	}
	return h.flashTo(c, "success", "Transfer proposed; the receiver agrees on their membership page, then the board carries it out.", "/membership#transfers")
}

// AgreeTransfer is the receiver's agreement (or refusal).
func (h *Handler) AgreeTransfer(c echo.Context) error {
	agree := c.FormValue("agree") == "yes"
	if err := h.Members.AgreeTransfer(c.Request().Context(), actor(c), CurrentUser(c).ID, c.Param("id"), agree); err != nil {
		return h.refused(c, err, "/membership#transfers")
	}
	msg := "You agreed to the transfer; the board carries it out."
	if !agree {
		msg = "You declined the transfer."
	}
	return h.flashTo(c, "success", msg, "/membership#transfers")
}

// WithdrawTransfer takes back a transfer the board has not carried out.
func (h *Handler) WithdrawTransfer(c echo.Context) error {
	if err := h.Members.WithdrawTransfer(c.Request().Context(), actor(c), CurrentUser(c).ID, c.Param("id")); err != nil {
		return h.refused(c, err, "/membership#transfers")
	}
	return h.flashTo(c, "success", "The transfer has been withdrawn.", "/membership#transfers")
}

// ShowBylaws shows the bylaws in force, to print or save.
func (h *Handler) ShowBylaws(c echo.Context) error {
	r, err := h.Rules.Current(c.Request().Context())
	if err != nil {
		return err
	}
	p, err := h.page(c, "Bylaws", "membership")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.BylawsPage(p, r))
}

// ShowMemberList is the member list members may inspect (§31 GenG).
func (h *Handler) ShowMemberList(c echo.Context) error {
	entries, err := h.Members.MemberList(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Member list", "member-list")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.MemberListPage(p, entries))
}

// OwnEntries downloads a copy of the member's own entries (§31 GenG).
func (h *Handler) OwnEntries(c echo.Context) error {
	text, err := h.Members.OwnEntries(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="member-list-entries.txt"`)
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(text))
}
