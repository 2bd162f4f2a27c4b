package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/metering"
)

// The board's statements page in the API: close a month, add a
// correction line to a statement, enter and reverse running costs, and
// the month's SEPA direct-debit file. Same domain calls as the page; the
// routes check the board role, the domain checks it again.

// apiMonth reads a month (YYYY-MM) of a request body; blank is last month,
// as on the page.
func apiMonth(s string) (metering.Month, error) {
	if s == "" {
		return metering.MonthOf(time.Now()).Prev(), nil
	}
	m, err := metering.ParseMonth(s)
	if err != nil {
		return m, models.Invalid(map[string]string{"month": "Enter the month as YYYY-MM."})
	}
	return m, nil
}

// APICloseStatements answers POST /api/v1/board/statements/close: the
// month's statements are made now (the job does it on its own two hours
// into the next month); closing twice makes none the second time. The
// month is named, not defaulted: closing is for good.
func (h *Handler) APICloseStatements(c echo.Context) error {
	var in struct {
		Month string `json:"month"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.Month == "" {
		return models.Invalid(map[string]string{"month": "Enter the month as YYYY-MM."})
	}
	m, err := apiMonth(in.Month)
	if err != nil {
		return err
	}
	n, err := h.Commons.CloseMonthBy(c.Request().Context(), actor(c), viewer(CurrentUser(c)), m)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"month": m.String(), "new_statements": n})
}

// APICorrectStatement answers POST /api/v1/statements/{id}/corrections
// (board): a correction line, in cents, negative for a credit.
func (h *Handler) APICorrectStatement(c echo.Context) error {
	var in struct {
		Description string `json:"description"`
		AmountCents int64  `json:"amount_cents"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	line, err := h.Commons.Correct(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"),
		metering.CorrectionInput{Description: in.Description, AmountCents: in.AmountCents})
	if err != nil {
		return renameField(err, "amount", "amount_cents")
	}
	return c.JSON(http.StatusCreated, line)
}

// APICosts answers GET /api/v1/board/costs (board): the running costs of
// the last twelve months, newest first, reversals included.
func (h *Handler) APICosts(c echo.Context) error {
	costs, err := h.Commons.Costs(c.Request().Context(), viewer(CurrentUser(c)), 12)
	if err != nil {
		return err
	}
	if costs == nil {
		costs = []metering.Cost{}
	}
	return c.JSON(http.StatusOK, map[string]any{"costs": costs, "categories": metering.CostCategories})
}

// APIAddCost answers POST /api/v1/board/costs (board): a month's running
// cost, in cents.
func (h *Handler) APIAddCost(c echo.Context) error {
	var in struct {
		Month       string `json:"month"`
		Category    string `json:"category"`
		AmountCents int64  `json:"amount_cents"`
		Note        string `json:"note"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	cost, err := h.Commons.AddCost(c.Request().Context(), actor(c), viewer(CurrentUser(c)), metering.CostInput{
		Month: in.Month, Category: in.Category, AmountCents: in.AmountCents, AmountValid: true, Note: in.Note})
	if err != nil {
		return renameField(err, "amount", "amount_cents")
	}
	return c.JSON(http.StatusCreated, cost)
}

// APIReverseCost answers POST /api/v1/board/costs/{id}/reverse (board):
// the entry is cancelled by a new, negative one.
func (h *Handler) APIReverseCost(c echo.Context) error {
	if err := h.Commons.ReverseCost(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APISEPAFile answers POST /api/v1/board/statements/sepa (board): the
// closed month's pain.008 direct-debit file for the creditor's bank.
func (h *Handler) APISEPAFile(c echo.Context) error {
	var in struct {
		Month          string `json:"month"`
		CreditorName   string `json:"creditor_name"`
		CreditorIBAN   string `json:"creditor_iban"`
		CreditorID     string `json:"creditor_id"`
		CollectionDate string `json:"collection_date"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	m, err := apiMonth(in.Month)
	if err != nil {
		return err
	}
	date, dateOK := parseDay(in.CollectionDate)
	xmlDoc, _, err := h.Commons.SEPAFile(c.Request().Context(), viewer(CurrentUser(c)), m, metering.Creditor{
		Name: in.CreditorName, IBAN: in.CreditorIBAN, ID: in.CreditorID, CollectionDate: date, DateValid: dateOK})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="allmende-`+m.String()+`-pain.008.xml"`)
	return c.Blob(http.StatusOK, "application/xml; charset=utf-8", xmlDoc)
}
