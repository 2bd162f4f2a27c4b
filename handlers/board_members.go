package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/membership"
	"allmende/views"
)

// registerPageSize is how many members one page of the register shows.
const registerPageSize = 50

func registerFilter(c echo.Context) membership.RegisterFilter {
	return membership.RegisterFilter{Query: c.QueryParam("q"), Status: c.QueryParam("status")}
}

// ShowRegister renders the member register with search and status filter.
func (h *Handler) ShowMemberRegister(c echo.Context) error {
	pg, err := pageParams(c, registerPageSize, 200)
	if err != nil {
		return err
	}
	f := registerFilter(c)
	f.Limit, f.Offset = pg.PerPage, pg.Offset()
	ctx := c.Request().Context()
	total, err := h.Members.CountRegister(ctx, f)
	if err != nil {
		return err
	}
	entries, err := h.Members.Register(ctx, f)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Member register", "register")
	if err != nil {
		return err
	}
	query := url.Values{"q": {f.Query}, "status": {f.Status}}
	paging := views.Paging{Path: "/board/members", Query: query, Page: pg.Page, PerPage: pg.PerPage, Total: total}
	return render(c, http.StatusOK, views.MemberRegisterPage(p, f, entries, query.Encode(), paging))
}

// MemberRegisterCSV exports the filtered register.
func (h *Handler) MemberRegisterCSV(c echo.Context) error {
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	hdr.Set(echo.HeaderContentDisposition, `attachment; filename="member-register.csv"`)
	hdr.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	return h.Members.WriteRegisterCSV(c.Request().Context(), registerFilter(c), c.Response())
}

// ShowBoardMember is the board's page of one member.
func (h *Handler) ShowBoardMember(c echo.Context) error {
	return h.renderBoardMember(c, http.StatusOK, views.MemberForms{})
}

func (h *Handler) renderBoardMember(c echo.Context, status int, f views.MemberForms) error {
	o, err := h.Members.Member(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Member", "register")
	if err != nil {
		return err
	}
	return render(c, status, views.BoardMemberPage(p, o, f))
}

// RecordPayment books a payment on a member's shares in two steps: the
// typed amount is read by the browser's locale and shown back with what the
// member owes; only the confirming post (carrying the cents it showed) books.
func (h *Handler) RecordPayment(c echo.Context) error {
	f := formOf(c, "amount", "date", "note")
	ctx := c.Request().Context()
	cents, okAmount := parseMoney(f.Value("amount"), localeOf(c))
	if confirmed := c.FormValue("confirm_cents"); confirmed != "" {
		cents, okAmount = parseCents(confirmed)
	}
	date, okDate := parseDay(f.Value("date"))
	if !okAmount || !okDate {
		f.Errors = map[string]string{}
		if !okAmount {
			f.Errors["amount"] = i18n.T(ctx, "Enter an amount in euros, like 50 or %s.", moneyExample(localeOf(c)))
		}
		if !okDate {
			f.Errors["date"] = "Enter a date as YYYY-MM-DD."
		}
		return h.renderBoardMember(c, http.StatusUnprocessableEntity, views.MemberForms{Payment: f})
	}
	var err error
	if c.FormValue("confirm_cents") == "" {
		var check *membership.PaymentCheck
		if check, err = h.Members.CheckPayment(ctx, c.Param("id"), cents, date, f.Value("note")); err == nil {
			return h.renderBoardMember(c, http.StatusOK, views.MemberForms{Payment: f,
				PaymentConfirm: &views.PaymentConfirm{Cents: cents, Check: *check}})
		}
	} else {
		err = h.Members.RecordPayment(ctx, actor(c), c.Param("id"), cents, date, f.Value("note"))
	}
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderBoardMember(c, status, views.MemberForms{Payment: f})
	}
	return h.flashTo(c, "success", i18n.T(ctx, "Payment of %s recorded.", i18n.Money(ctx, cents)), "/board/members/"+c.Param("id"))
}

// ReverseShareTransaction books the opposite of a share ledger row.
func (h *Handler) ReverseShareTransaction(c echo.Context) error {
	return h.reverse(c, h.Members.ReverseShareTransaction)
}

// ReverseCapitalTransaction books the opposite of a capital ledger row.
func (h *Handler) ReverseCapitalTransaction(c echo.Context) error {
	return h.reverse(c, h.Members.ReverseCapitalTransaction)
}

func (h *Handler) reverse(c echo.Context, fn func(ctx context.Context, a models.Actor, id, reason string) error) error {
	back := memberPageBack(c)
	if err := fn(c.Request().Context(), actor(c), c.Param("id"), c.FormValue("reason")); err != nil {
		return h.refused(c, err, back)
	}
	return h.flashTo(c, "success", "Reversal booked.", back)
}

// memberPageBack is the member page a ledger or refund button was on (the
// rows do not carry their member), or the register.
func memberPageBack(c echo.Context) string {
	if u, err := url.Parse(c.Request().Referer()); err == nil {
		if p := u.EscapedPath(); strings.HasPrefix(p, "/board/members/") && localPath(p) {
			return p
		}
	}
	return "/board/members"
}

// PayRefund records a refund as paid on the given date.
func (h *Handler) PayRefund(c echo.Context) error {
	back := memberPageBack(c)
	date, ok := parseDay(c.FormValue("date"))
	if !ok {
		return h.flashTo(c, "error", "Enter the date the refund was paid, as YYYY-MM-DD.", back)
	}
	if err := h.Members.PayRefund(c.Request().Context(), actor(c), c.Param("id"), date); err != nil {
		return h.refused(c, err, back)
	}
	return h.flashTo(c, "success", "Refund recorded as paid.", back)
}
