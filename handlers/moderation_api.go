package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/moderation"
)

// The moderation API: external abuse reports (no account), members'
// reports, the panel (moderators and admins), the member's sanctions and
// appeals, the appeals committee's decisions, the quarterly report. The
// domain authorises every call.

type apiAbuseReport struct {
	IP       string `json:"ip"`
	SeenAt   string `json:"seen_at"`
	Category string `json:"category"`
	Evidence string `json:"evidence"`
	Email    string `json:"email"`
}

// APIAbuseReport answers POST /api/v1/abuse-reports (no account needed).
func (h *Handler) APIAbuseReport(c echo.Context) error {
	var in apiAbuseReport
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	r, err := h.Moderation.ReportAbuse(c.Request().Context(), c.RealIP(), moderation.AbuseInput(in))
	if err != nil {
		h.abuseRetryAfter(c, err)
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

// APIReportStatus answers GET /api/v1/abuse-reports/{ref}: a report's
// status, to whoever holds its reference (a member's report: its member).
func (h *Handler) APIReportStatus(c echo.Context) error {
	uid := ""
	if u := CurrentUser(c); u != nil {
		uid = u.ID
	}
	s, err := h.Moderation.Status(c.Request().Context(), uid, c.Param("ref"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s)
}

type apiReport struct {
	TargetKind string `json:"target_kind"`
	Target     string `json:"target"`
	Category   string `json:"category"`
	Evidence   string `json:"evidence"`
}

// APIReport answers POST /api/v1/reports: a member's report.
func (h *Handler) APIReport(c echo.Context) error {
	var in apiReport
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	r, err := h.Moderation.Report(c.Request().Context(), actor(c), moderation.ReportInput(in))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

// APIMyReports answers GET /api/v1/reports.
func (h *Handler) APIMyReports(c echo.Context) error {
	rs, err := h.Moderation.MyReports(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"reports": rs})
}

// caseFilter reads the queue's filters from the query string.
func caseFilter(c echo.Context) (moderation.CaseFilter, error) {
	f := moderation.CaseFilter{State: c.QueryParam("state"), Mine: c.QueryParam("mine") == "1" || c.QueryParam("mine") == "true",
		Category: c.QueryParam("category"), TargetKind: c.QueryParam("target_kind")}
	if a := c.QueryParam("age"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil {
			return f, models.Invalid(map[string]string{"age": "Enter the minimum age in whole days."})
		}
		f.MinAgeDays = n
	}
	return f, nil
}

// APICases answers GET /api/v1/moderation/cases (panel).
func (h *Handler) APICases(c echo.Context) error {
	f, err := caseFilter(c)
	if err != nil {
		return err
	}
	rows, err := h.Moderation.Cases(c.Request().Context(), actor(c), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"cases": rows})
}

// APICase answers GET /api/v1/moderation/cases/{id} (panel).
func (h *Handler) APICase(c echo.Context) error {
	d, err := h.Moderation.Case(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

type apiCaseAction struct {
	Assignee string `json:"assignee"`
	Body     string `json:"body"`
	Reason   string `json:"reason"`
}

// APICaseAction answers POST /api/v1/moderation/cases/{id}/{assign,notes,dismiss,close}.
func (h *Handler) APICaseAction(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		var in apiCaseAction
		if err := bindJSON(c, &in); err != nil {
			return err
		}
		ctx, a, id := c.Request().Context(), actor(c), c.Param("id")
		var err error
		switch action {
		case "assign":
			err = h.Moderation.Assign(ctx, a, id, in.Assignee)
		case "note":
			err = h.Moderation.AddNote(ctx, a, id, in.Body)
		case "dismiss":
			err = h.Moderation.Dismiss(ctx, a, id, in.Reason)
		case "close":
			err = h.Moderation.Close(ctx, a, id, in.Reason)
		}
		if err != nil {
			return err
		}
		return h.APICase(c)
	}
}

type apiSanction struct {
	Kind      string `json:"kind"`
	VMID      string `json:"vm_id"`
	Reason    string `json:"reason"`
	Days      int    `json:"days"`
	Emergency bool   `json:"emergency"`
	HeardNote string `json:"heard_note"`
}

// APISanction answers POST /api/v1/moderation/cases/{id}/sanctions.
func (h *Handler) APISanction(c echo.Context) error {
	var in apiSanction
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	s, err := h.Moderation.Sanction(c.Request().Context(), actor(c), c.Param("id"), moderation.SanctionInput(in))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s)
}

// APIConfirmSanction answers POST /api/v1/moderation/sanctions/{id}/confirm.
func (h *Handler) APIConfirmSanction(c echo.Context) error {
	if err := h.Moderation.Confirm(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APILiftSanction answers POST /api/v1/moderation/sanctions/{id}/lift.
func (h *Handler) APILiftSanction(c echo.Context) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := h.Moderation.Lift(c.Request().Context(), actor(c), c.Param("id"), in.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APIMySanctions answers GET /api/v1/sanctions: the member's own.
func (h *Handler) APIMySanctions(c echo.Context) error {
	ss, err := h.Moderation.MySanctions(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"sanctions": ss})
}

// APIAppealSanction answers POST /api/v1/sanctions/{id}/appeal.
func (h *Handler) APIAppealSanction(c echo.Context) error {
	var in struct {
		Statement string `json:"statement"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	a, err := h.Moderation.FileAppeal(c.Request().Context(), actor(c), c.Param("id"), in.Statement)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

// APIAppeals answers GET /api/v1/appeals (the appeals committee).
func (h *Handler) APIAppeals(c echo.Context) error {
	rows, err := h.Moderation.Appeals(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"appeals": rows})
}

// APIDecideAppeal answers POST /api/v1/appeals/{id}/decision.
func (h *Handler) APIDecideAppeal(c echo.Context) error {
	var in struct {
		Outcome string `json:"outcome"`
		Reason  string `json:"reason"`
		EndsOn  string `json:"ends_on"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := h.Moderation.Decide(c.Request().Context(), actor(c), c.Param("id"),
		moderation.DecisionInput{Outcome: in.Outcome, Reason: in.Reason, EndsOn: in.EndsOn}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APITransparency answers GET /api/v1/moderation/report?year=&quarter=.
func (h *Handler) APITransparency(c echo.Context) error {
	y, q, err := quarterParams(c, h.Moderation)
	if err != nil {
		return err
	}
	r, err := h.Moderation.Quarter(c.Request().Context(), y, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// quarterParams reads year and quarter (default: the current quarter).
func quarterParams(c echo.Context, m *moderation.Moderation) (int, int, error) {
	y, q := m.CurrentQuarter()
	if v := c.QueryParam("year"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, models.Invalid(map[string]string{"year": "Enter the year as a number."})
		}
		y = n
	}
	if v := c.QueryParam("quarter"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, models.Invalid(map[string]string{"quarter": "Enter the quarter as 1 to 4."})
		}
		q = n
	}
	return y, q, nil
}
