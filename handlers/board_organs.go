package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models/membership"
	"allmende/views"
)

// ShowOrgans lists the organs and their seats (board and supervisory board).
func (h *Handler) ShowOrgans(c echo.Context) error {
	return h.renderOrgans(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderOrgans(c echo.Context, status int, f views.Form) error {
	ov, err := h.Members.Organs().Overview(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Organs", "organs")
	if err != nil {
		return err
	}
	return render(c, status, views.OrgansPage(p, ov, f))
}

// AppointToOrgan records an election or a decision of the supervisory board.
func (h *Handler) AppointToOrgan(c echo.Context) error {
	f := formOf(c, "organ", "user", "by", "decided_on", "term_start", "term_end", "reference")
	dates := map[string]time.Time{}
	for _, name := range []string{"decided_on", "term_start", "term_end"} {
		if v := f.Value(name); v != "" {
			d, ok := parseDay(v)
			if !ok {
				fieldErr(&f, name, "Enter a date as YYYY-MM-DD.")
			}
			dates[name] = d
		}
	}
	if len(f.Errors) > 0 {
		return h.renderOrgans(c, http.StatusUnprocessableEntity, f)
	}
	organ, _ := membership.ParseOrgan(f.Value("organ"))
	in := membership.AppointInput{Organ: organ, UserID: f.Value("user"), TermStart: dates["term_start"], TermEnd: dates["term_end"],
		DecidedOn: dates["decided_on"], Reference: f.Value("reference"), Source: membership.SourceElection}
	if f.Value("by") == membership.BodySupervisoryBoard {
		in.Source, in.Body = membership.SourceDecision, membership.BodySupervisoryBoard
	}
	if _, err := h.Members.Organs().Appoint(c.Request().Context(), actor(c), in); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderOrgans(c, status, f)
	}
	return h.flashTo(c, "success", "Appointment recorded.", "/board/organs")
}

// EndAppointment records a resignation, recall or suspension.
func (h *Handler) EndAppointment(c echo.Context) error {
	day, ok := parseDay(c.FormValue("last_day"))
	if !ok {
		return h.flashTo(c, "error", "Enter the last day in office, as YYYY-MM-DD.", "/board/organs")
	}
	if err := h.Members.Organs().EndAppointment(c.Request().Context(), actor(c), c.Param("id"), day, c.FormValue("reason")); err != nil {
		return h.refused(c, err, "/board/organs")
	}
	return h.flashTo(c, "success", "The appointment has ended.", "/board/organs")
}
