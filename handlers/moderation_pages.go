package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/moderation"
	"allmende/views"
)

// The moderation pages: the public abuse form and report status, the
// member's report form and sanctions (with the appeal), the panel, the
// appeals committee's list, the quarterly numbers.

// ShowAbuse is the public abuse form (GET /abuse).
func (h *Handler) ShowAbuse(c echo.Context) error {
	p, err := h.page(c, "Report abuse", "abuse")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AbusePage(p, views.Form{}))
}

// PostAbuse files an external report (POST /abuse) and shows its status.
func (h *Handler) PostAbuse(c echo.Context) error {
	f := formOf(c, "ip", "seen_at", "category", "evidence", "email")
	r, err := h.Moderation.ReportAbuse(c.Request().Context(), c.RealIP(), moderation.AbuseInput{IP: f.Value("ip"),
		SeenAt: f.Value("seen_at"), Category: f.Value("category"), Evidence: f.Value("evidence"), Email: f.Value("email")})
	if err != nil {
		h.abuseRetryAfter(c, err)
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		p, perr := h.page(c, "Report abuse", "abuse")
		if perr != nil {
			return perr
		}
		return render(c, status, views.AbusePage(p, f))
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Thank you. Your report %s has been received; keep this page's address to follow it.", r.Ref), r.Status)
}

// ShowReportStatus is a report's status (GET /reports/:ref).
func (h *Handler) ShowReportStatus(c echo.Context) error {
	uid := ""
	if u := CurrentUser(c); u != nil {
		uid = u.ID
	}
	s, err := h.Moderation.Status(c.Request().Context(), uid, c.Param("ref"))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Report", "sanctions")
	if err != nil {
		return err
	}
	p.Title = i18n.T(c.Request().Context(), "Report %s", s.Ref)
	return render(c, http.StatusOK, views.ReportStatusPage(p, s))
}

func (h *Handler) reportPage(c echo.Context, status int, f views.Form) error {
	mine, err := h.Moderation.MyReports(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Report something", "sanctions")
	if err != nil {
		return err
	}
	return render(c, status, views.ReportPage(p, f, mine))
}

// ShowReport is the member's report form (GET /report).
func (h *Handler) ShowReport(c echo.Context) error {
	f := views.Form{Values: map[string]string{"target_kind": c.QueryParam("kind"), "target": c.QueryParam("target")}}
	return h.reportPage(c, http.StatusOK, f)
}

// PostReport files a member's report (POST /report).
func (h *Handler) PostReport(c echo.Context) error {
	f := formOf(c, "target_kind", "target", "category", "evidence")
	r, err := h.Moderation.Report(c.Request().Context(), actor(c), moderation.ReportInput{TargetKind: f.Value("target_kind"),
		Target: f.Value("target"), Category: f.Value("category"), Evidence: f.Value("evidence")})
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.reportPage(c, status, f)
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Thank you. Your report %s has been received.", r.Ref), r.Status)
}

func (h *Handler) sanctionsPage(c echo.Context, status int, f views.Form) error {
	ss, err := h.Moderation.MySanctions(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Reports & sanctions", "sanctions")
	if err != nil {
		return err
	}
	return render(c, status, views.SanctionsPage(p, ss, f))
}

// ShowSanctions is the member's own sanctions (GET /sanctions).
func (h *Handler) ShowSanctions(c echo.Context) error {
	return h.sanctionsPage(c, http.StatusOK, views.Form{})
}

// PostAppeal appeals a sanction (POST /sanctions/:id/appeal).
func (h *Handler) PostAppeal(c echo.Context) error {
	f := formOf(c, "statement")
	if _, err := h.Moderation.FileAppeal(c.Request().Context(), actor(c), c.Param("id"), f.Value("statement")); err != nil {
		de, ok := models.AsError(err)
		if !ok || de.Code == http.StatusNotFound {
			return err
		}
		f.Error = errText(c.Request().Context(), err)
		return h.sanctionsPage(c, de.Code, f)
	}
	return h.flashTo(c, "success", "Your appeal has been filed; the elected appeals committee decides it.", "/sanctions")
}

// ShowCases is the panel's queue (GET /moderation).
func (h *Handler) ShowCases(c echo.Context) error {
	f := views.Form{Values: map[string]string{"state": c.QueryParam("state"), "category": c.QueryParam("category"),
		"target_kind": c.QueryParam("target_kind"), "age": c.QueryParam("age"), "mine": c.QueryParam("mine")}}
	if f.Values["state"] == "" {
		f.Values["state"] = moderation.CaseOpen
	}
	status := http.StatusOK
	var rows []moderation.CaseRow
	filter, err := caseFilter(c)
	if err == nil {
		rows, err = h.Moderation.Cases(c.Request().Context(), actor(c), filter)
	}
	if err != nil {
		var ok bool
		if status, ok = formFailure(c.Request().Context(), err, &f); !ok || status == http.StatusForbidden {
			return err
		}
	}
	p, err := h.page(c, "Moderation: cases", "moderation")
	if err != nil {
		return err
	}
	return render(c, status, views.CasesPage(p, f, rows))
}

func (h *Handler) casePage(c echo.Context, id string, status int, f views.Form) error {
	d, err := h.Moderation.Case(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Case", "moderation")
	if err != nil {
		return err
	}
	p.Title = i18n.T(c.Request().Context(), "Case %s", d.Ref)
	return render(c, status, views.CasePage(p, d, f))
}

// ShowCase is one case (GET /moderation/cases/:id).
func (h *Handler) ShowCase(c echo.Context) error {
	return h.casePage(c, c.Param("id"), http.StatusOK, views.Form{})
}

// ShowCaseLog is the case log partial the case page polls (GET /moderation/cases/:id/log).
func (h *Handler) ShowCaseLog(c echo.Context) error {
	d, err := h.Moderation.Case(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.CaseLog(d))
}

// caseDone redirects to the case after an action, or shows the case with
// the refusal.
func (h *Handler) caseDone(c echo.Context, id string, err error, f views.Form, done string) error {
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound || status == http.StatusForbidden {
			return err
		}
		if f.Error == "" {
			f.Error = errText(c.Request().Context(), err)
		}
		return h.casePage(c, id, status, f)
	}
	return h.flashTo(c, "success", done, "/moderation/cases/"+id)
}

// PostCaseAction runs a panel action on a case (POST /moderation/cases/:id/{assign,note,dismiss,sanction}).
func (h *Handler) PostCaseAction(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, a, id := c.Request().Context(), actor(c), c.Param("id")
		f := formOf(c, "kind", "vm_id", "reason", "days", "heard_note", "body", "reason_close")
		var err error
		done := ""
		switch action {
		case "assign":
			err, done = h.Moderation.Assign(ctx, a, id, c.FormValue("assignee")), "Assigned."
		case "note":
			err, done = h.Moderation.AddNote(ctx, a, id, f.Value("body")), "Note added."
		case "dismiss":
			if c.FormValue("as") == "close" {
				err, done = h.Moderation.Close(ctx, a, id, f.Value("reason_close")), "Case closed."
			} else {
				err, done = h.Moderation.Dismiss(ctx, a, id, f.Value("reason_close")), "Case dismissed."
			}
			if de, ok := models.AsError(err); ok && de.Fields["reason"] != "" {
				de.Fields = map[string]string{"reason_close": de.Fields["reason"]}
			}
		case "sanction":
			in := moderation.SanctionInput{Kind: f.Value("kind"), Reason: f.Value("reason"), HeardNote: f.Value("heard_note"),
				Emergency: c.FormValue("emergency") == "1", VMID: f.Value("vm_id")}
			if d := strings.TrimSpace(f.Value("days")); d != "" {
				n, perr := strconv.Atoi(d)
				if perr != nil || n < 1 {
					fieldErr(&f, "days", "Enter a whole number of days, or leave it empty.")
					return h.casePage(c, id, http.StatusUnprocessableEntity, f)
				}
				in.Days = n
			}
			var s *moderation.Sanction
			s, err = h.Moderation.Sanction(ctx, a, id, in)
			if err == nil {
				done = i18n.T(ctx, "Applied: step %d %s.", s.Step, i18n.T(ctx, s.Kind))
			}
		}
		return h.caseDone(c, id, err, f, done)
	}
}

// PostSanctionAction confirms or lifts a sanction (POST /moderation/sanctions/:id/{confirm,lift}).
func (h *Handler) PostSanctionAction(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, a, id := c.Request().Context(), actor(c), c.Param("id")
		var err error
		if action == "confirm" {
			err = h.Moderation.Confirm(ctx, a, id)
		} else {
			err = h.Moderation.Lift(ctx, a, id, c.FormValue("reason"))
		}
		back := "/moderation"
		if cid := c.FormValue("case_id"); cid != "" {
			back = "/moderation/cases/" + cid
		}
		if err != nil {
			return h.refused(c, err, back)
		}
		return h.flashTo(c, "success", map[string]string{"confirm": "Suspension confirmed.", "lift": "Sanction lifted."}[action], back)
	}
}

func (h *Handler) appealsPage(c echo.Context, status int, f views.Form) error {
	rows, err := h.Moderation.Appeals(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Appeals", "appeals")
	if err != nil {
		return err
	}
	return render(c, status, views.AppealsPage(p, rows, f))
}

// ShowAppeals is the appeals committee's list (GET /appeals).
func (h *Handler) ShowAppeals(c echo.Context) error {
	return h.appealsPage(c, http.StatusOK, views.Form{})
}

// PostDecision decides an appeal (POST /appeals/:id/decide).
func (h *Handler) PostDecision(c echo.Context) error {
	err := h.Moderation.Decide(c.Request().Context(), actor(c), c.Param("id"), moderation.DecisionInput{
		Outcome: c.FormValue("outcome"), Reason: c.FormValue("reason"), EndsOn: c.FormValue("ends_on")})
	if err != nil {
		de, ok := models.AsError(err)
		if !ok || de.Code == http.StatusNotFound || de.Code == http.StatusForbidden {
			return err
		}
		return h.appealsPage(c, de.Code, views.Form{Error: errText(c.Request().Context(), err)})
	}
	return h.flashTo(c, "success", "Appeal decided.", "/appeals")
}

// ShowTransparency is the quarterly report (GET /transparency).
func (h *Handler) ShowTransparency(c echo.Context) error {
	y, q, err := quarterParams(c, h.Moderation)
	var r *moderation.Quarterly
	if err == nil {
		r, err = h.Moderation.Quarter(c.Request().Context(), y, q)
	}
	de, refused := models.AsError(err)
	if err != nil && (!refused || de.Code != http.StatusUnprocessableEntity) {
		return err
	}
	p, perr := h.page(c, "Moderation in numbers", "sanctions")
	if perr != nil {
		return perr
	}
	if err != nil {
		// A quarter outside the report (or no quarter at all) is no page
		// of it: the page says which quarters there are.
		return render(c, http.StatusNotFound, views.TransparencyRefused(p, errText(c.Request().Context(), err)))
	}
	return render(c, http.StatusOK, views.TransparencyPage(p, r))
}

// ShowMotions lists the motions to exclude for the board (GET /board/motions).
func (h *Handler) ShowMotions(c echo.Context) error {
	ms, err := h.Moderation.Motions(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Motions to exclude", "motions")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.MotionsPage(p, ms))
}
