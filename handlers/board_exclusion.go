package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models/membership"
	"allmende/views"
)

// OpenExclusion starts exclusion proceedings from the board's member page.
func (h *Handler) OpenExclusion(c echo.Context) error {
	f := formOf(c, "reason", "facts")
	x, err := h.Members.OpenExclusion(c.Request().Context(), actor(c), c.Param("id"),
		membership.ExclusionInput{Reason: f.Value("reason"), Facts: f.Value("facts")})
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderBoardMember(c, status, views.MemberForms{Exclude: f})
	}
	return h.flashTo(c, "success", "Proceedings opened; the member has been invited to be heard.", "/board/exclusions/"+x.ID)
}

// ShowExclusion is the page of one set of proceedings (board and
// supervisory board).
func (h *Handler) ShowExclusion(c echo.Context) error {
	return h.renderExclusion(c, http.StatusOK, views.ExclusionForms{})
}

func (h *Handler) renderExclusion(c echo.Context, status int, f views.ExclusionForms) error {
	d, err := h.Members.Exclusion(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Exclusion", "register")
	if err != nil {
		return err
	}
	return render(c, status, views.ExclusionPage(p, d, f))
}

// exclusionStep runs one step of the proceedings and re-renders the page
// with the form's errors when it is refused.
func (h *Handler) exclusionStep(c echo.Context, f views.Form, done string, step func() error, put func(*views.ExclusionForms, views.Form)) error {
	if err := step(); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		var forms views.ExclusionForms
		put(&forms, f)
		return h.renderExclusion(c, status, forms)
	}
	return h.flashTo(c, "success", done, "/board/exclusions/"+c.Param("id"))
}

// RecordExclusionStatement records a hearing held outside the portal.
func (h *Handler) RecordExclusionStatement(c echo.Context) error {
	f := formOf(c, "statement")
	return h.exclusionStep(c, f, "Hearing recorded.", func() error {
		return h.Members.RecordStatement(c.Request().Context(), actor(c), c.Param("id"), f.Value("statement"))
	}, func(fs *views.ExclusionForms, f views.Form) { fs.Statement = f })
}

// DecideExclusion records the decision of the body the bylaws name.
func (h *Handler) DecideExclusion(c echo.Context) error {
	f := formOf(c, "decided_on", "reference", "exclude")
	day, ok := parseDay(f.Value("decided_on"))
	if !ok && f.Value("decided_on") != "" {
		fieldErr(&f, "decided_on", "Enter a date as YYYY-MM-DD.")
		return h.renderExclusion(c, http.StatusUnprocessableEntity, views.ExclusionForms{Decision: f})
	}
	in := membership.DecisionInput{Exclude: f.Value("exclude") != "no", DecidedOn: day, Reference: f.Value("reference")}
	return h.exclusionStep(c, f, "Decision recorded.", func() error {
		return h.Members.DecideExclusion(c.Request().Context(), actor(c), c.Param("id"), in)
	}, func(fs *views.ExclusionForms, f views.Form) { fs.Decision = f })
}

// RecordExclusionLetter records the day the registered letter went out.
func (h *Handler) RecordExclusionLetter(c echo.Context) error {
	f := formOf(c, "sent_on")
	day, ok := parseDay(f.Value("sent_on"))
	if !ok && f.Value("sent_on") != "" {
		fieldErr(&f, "sent_on", "Enter a date as YYYY-MM-DD.")
		return h.renderExclusion(c, http.StatusUnprocessableEntity, views.ExclusionForms{Letter: f})
	}
	return h.exclusionStep(c, f, "Letter recorded: the membership ends at the end of the business year.", func() error {
		return h.Members.RecordExclusionLetter(c.Request().Context(), actor(c), c.Param("id"), day)
	}, func(fs *views.ExclusionForms, f views.Form) { fs.Letter = f })
}

// SubmitExclusionStatement is the member's own statement in the hearing.
func (h *Handler) SubmitExclusionStatement(c echo.Context) error {
	err := h.Members.RecordStatement(c.Request().Context(), actor(c), c.Param("id"), c.FormValue("statement"))
	if err != nil {
		return h.refused(c, err, "/membership#exclusion")
	}
	return h.flashTo(c, "success", "Your statement has been recorded.", "/membership#exclusion")
}
