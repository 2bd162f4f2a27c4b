package handlers

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models/metering"
	"allmende/views"
)

// ShowStatements lists the signed-in member's monthly statements.
func (h *Handler) ShowStatements(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	sts, err := h.Commons.Statements(ctx, v)
	if err != nil {
		return err
	}
	soFar, err := h.Commons.SoFar(ctx, v)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Statements", "statements")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.StatementsPage(p, sts, soFar))
}

// ShowStatement is one statement, printable; its member or the board.
func (h *Handler) ShowStatement(c echo.Context) error {
	st, err := h.Commons.Statement(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.page(c, i18n.T(c.Request().Context(), "Statement %s", st.Month), "statements")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.StatementPage(p, st))
}

// StatementCSV is one statement as CSV (amounts in euros with a point).
func (h *Handler) StatementCSV(c echo.Context) error {
	st, err := h.Commons.Statement(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"position", "kind", "description", "quantity", "unit", "unit_price_cents", "amount_eur"})
	for _, l := range st.Lines {
		_ = w.Write([]string{strconv.Itoa(l.Position), l.Kind, csvSafe(l.Description), milli(l.QuantityMilli), l.Unit,
			milli(l.UnitPriceMillicents), euros(l.AmountCents)})
	}
	_ = w.Write([]string{"", "total", "", "", "", "", euros(st.Total())})
	w.Flush()
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="statement-%s.csv"`, st.Month))
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// csvSafe keeps a spreadsheet from reading a description as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

func milli(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return fmt.Sprintf("%s%d.%03d", sign, n/1000, n%1000)
}

func euros(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

type apiStatement struct {
	metering.Statement
	TotalCents int64 `json:"total_cents"`
}

// APIStatements answers GET /api/v1/statements: the caller's own.
func (h *Handler) APIStatements(c echo.Context) error {
	sts, err := h.Commons.Statements(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	out := make([]apiStatement, 0, len(sts))
	for _, s := range sts {
		out = append(out, apiStatement{Statement: s, TotalCents: s.Total()})
	}
	return c.JSON(http.StatusOK, map[string]any{"statements": out})
}

// APIStatement answers GET /api/v1/statements/{id}.
func (h *Handler) APIStatement(c echo.Context) error {
	st, err := h.Commons.Statement(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiStatement{Statement: *st, TotalCents: st.Total()})
}

type apiBoardMonth struct {
	Month      string                   `json:"month"`
	Closed     bool                     `json:"closed"`
	TotalCents int64                    `json:"total_cents"`
	CostsCents int64                    `json:"costs_cents"`
	Statements []apiMemberStatement     `json:"statements"`
	Coverage   []metering.CoverageMonth `json:"coverage"`
}

type apiMemberStatement struct {
	apiStatement
	MemberName string `json:"member_name"`
}

// APIBoardStatements answers GET /api/v1/board/statements?month=YYYY-MM
// (board only): every statement of the month, the total, the costs and
// twelve months of coverage.
func (h *Handler) APIBoardStatements(c echo.Context) error {
	m, err := boardMonth(c)
	if err != nil {
		return err
	}
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	bm, err := h.Commons.BoardMonth(ctx, v, m)
	if err != nil {
		return err
	}
	cov, err := h.Commons.Coverage(ctx, 12)
	if err != nil {
		return err
	}
	out := apiBoardMonth{Month: bm.Month, Closed: bm.Closed, TotalCents: bm.TotalCents, CostsCents: bm.CostsCents,
		Statements: []apiMemberStatement{}, Coverage: cov}
	for _, s := range bm.Statements {
		out.Statements = append(out.Statements, apiMemberStatement{apiStatement: apiStatement{Statement: s, TotalCents: s.Total()}, MemberName: s.MemberName})
	}
	return c.JSON(http.StatusOK, out)
}
