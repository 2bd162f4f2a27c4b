package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/metering"
	"allmende/views"
)

// boardMonth is the month a board page is about: ?month=YYYY-MM, else the
// last month.
func boardMonth(c echo.Context) (metering.Month, error) {
	s := c.QueryParam("month")
	if s == "" {
		s = c.FormValue("month")
	}
	if s == "" {
		return metering.MonthOf(time.Now()).Prev(), nil
	}
	m, err := metering.ParseMonth(s)
	if err != nil {
		return m, models.Invalid(map[string]string{"month": "Enter the month as YYYY-MM."})
	}
	return m, nil
}

// ShowBoardStatements is the board's page of a month: every statement,
// totals, running costs and coverage; close, correct, enter costs.
func (h *Handler) ShowBoardStatements(c echo.Context) error {
	return h.renderBoardStatements(c, http.StatusOK, views.Form{Values: map[string]string{}})
}

func (h *Handler) renderBoardStatements(c echo.Context, status int, costForm views.Form) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	m, err := boardMonth(c)
	if err != nil {
		if len(costForm.Errors) == 0 {
			return err
		}
		// The cost form's own month is wrong: show the default month with
		// the form and its errors.
		m = metering.MonthOf(time.Now()).Prev()
	}
	d := views.BoardStatementsView{Month: m.String(), CostForm: costForm, Categories: metering.CostCategories}
	if d.Statements, err = h.Commons.BoardMonth(ctx, v, m); err != nil {
		return err
	}
	if d.Costs, err = h.Commons.Costs(ctx, v, 12); err != nil {
		return err
	}
	if d.Coverage, err = h.Commons.Coverage(ctx, 12); err != nil {
		return err
	}
	if d.CostForm.Values["month"] == "" {
		d.CostForm.Values["month"] = m.String()
	}
	p, err := h.page(c, i18n.T(ctx, "Statements %s", m.String()), "board-statements")
	if err != nil {
		return err
	}
	return render(c, status, views.BoardStatementsPage(p, d))
}

// CloseStatements closes a month by hand (the job does it on its own two
// hours into the next month); closing twice changes nothing.
func (h *Handler) CloseStatements(c echo.Context) error {
	m, err := boardMonth(c)
	if err != nil {
		return err
	}
	back := "/board/statements?month=" + m.String()
	n, err := h.Commons.CloseMonthBy(c.Request().Context(), actor(c), viewer(CurrentUser(c)), m)
	if err != nil {
		return h.refused(c, err, back)
	}
	ctx := c.Request().Context()
	return h.flashTo(c, "success", i18n.T(ctx, "%s closed: %s.", m.String(), i18n.N(ctx, "%d new statement", "%d new statements", n)), back)
}

// CorrectStatement adds a correction line to a statement.
func (h *Handler) CorrectStatement(c echo.Context) error {
	id := c.Param("id")
	back := "/statements/" + id
	cents, ok := parseMoney(c.FormValue("amount_abs"), localeOf(c))
	if !ok {
		return h.flashTo(c, "error", "Enter the amount such as 12.50.", back)
	}
	if c.FormValue("direction") == "credit" {
		cents = -cents
	}
	_, err := h.Commons.Correct(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id,
		metering.CorrectionInput{Description: c.FormValue("description"), AmountCents: cents})
	if err != nil {
		return h.refused(c, err, back)
	}
	return h.flashTo(c, "success", "Correction added as a new line.", back)
}

// AddCost records a running cost.
func (h *Handler) AddCost(c echo.Context) error {
	f := formOf(c, "month", "category", "amount", "note")
	cents, ok := parseMoney(f.Value("amount"), localeOf(c))
	if !ok && len(f.Value("amount")) > 0 && f.Value("amount")[0] == '-' {
		cents, ok = -1, true // a negative amount: the domain says why not
	}
	_, err := h.Commons.AddCost(c.Request().Context(), actor(c), viewer(CurrentUser(c)), metering.CostInput{
		Month: f.Value("month"), Category: f.Value("category"), AmountCents: cents, AmountValid: ok, Note: f.Value("note")})
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderBoardStatements(c, status, f)
	}
	return h.flashTo(c, "success", "Cost entered.", "/board/statements?month="+f.Value("month"))
}

// ReverseCost reverses a cost entry.
func (h *Handler) ReverseCost(c echo.Context) error {
	back := "/board/statements"
	if err := h.Commons.ReverseCost(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id")); err != nil {
		return h.refused(c, err, back)
	}
	return h.flashTo(c, "success", "Entry reversed.", back)
}

// SEPAFile answers the board's form with the month's pain.008 file.
func (h *Handler) SEPAFile(c echo.Context) error {
	m, err := boardMonth(c)
	if err != nil {
		return err
	}
	back := "/board/statements?month=" + m.String()
	date, dateOK := parseDay(c.FormValue("collection_date"))
	xmlDoc, _, err := h.Commons.SEPAFile(c.Request().Context(), viewer(CurrentUser(c)), m, metering.Creditor{
		Name: c.FormValue("creditor_name"), IBAN: c.FormValue("creditor_iban"), ID: c.FormValue("creditor_id"),
		CollectionDate: date, DateValid: dateOK})
	if err != nil {
		return h.refused(c, err, back)
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="allmende-`+m.String()+`-pain.008.xml"`)
	return c.Blob(http.StatusOK, "application/xml; charset=utf-8", xmlDoc)
}
