package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models/governance"
	"allmende/views"
)

// The conduct of an assembly (§43b GenG) and its minutes (§47 GenG): thin
// handlers over governance; refusals are shown on the assembly's page.

// conductFailure shows a refused conduct action on the assembly's page,
// with the submitted form (f.Values["form"] says which) and its message.
func (h *Handler) conductFailure(c echo.Context, err error, f views.Form) error {
	status, ok := formFailure(c.Request().Context(), err, &f)
	if !ok || status == http.StatusNotFound {
		return err
	}
	// Input errors show at the form (with what was typed); refusals of the
	// action itself (not now, not you) above the page.
	view := views.AssemblyView{Conduct: f}
	if status == http.StatusUnprocessableEntity && f.Value("form") != "" {
		view.Conduct.Error = errText(c.Request().Context(), err)
	} else {
		view.Conduct.Error, view.Error = "", errText(c.Request().Context(), err)
	}
	return h.renderAssembly(c, status, view)
}

// Contribute records a speech, question, answer or motion.
func (h *Handler) Contribute(c echo.Context) error {
	f := formOf(c, "form", "item_id", "kind", "parent_id", "text")
	id := c.Param("id")
	in := governance.ContributionInput{ItemID: f.Value("item_id"), Kind: f.Value("kind"), ParentID: f.Value("parent_id"), Text: f.Value("text")}
	ct, err := h.Governance.Contribute(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, in)
	if err != nil {
		return h.conductFailure(c, err, f)
	}
	return h.flashTo(c, "success", "Your contribution is on the record.", "/assemblies/"+id+"#contribution-"+ct.ID)
}

// Attend records the viewer as present.
func (h *Handler) Attend(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.Attend(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, c.FormValue("mode")); err != nil {
		return h.conductFailure(c, err, views.Form{})
	}
	return h.flashTo(c, "success", "You are recorded as present.", "/assemblies/"+id)
}

// DecideMotion is the chair's decision on a motion; "vote" admits an
// amendment and puts it to the vote.
func (h *Handler) DecideMotion(c echo.Context) error {
	id, decision := c.Param("id"), c.FormValue("decision")
	vote := decision == "vote"
	if vote {
		decision = governance.MotionAdmitted
	}
	if err := h.Governance.DecideMotion(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, c.Param("motion"), decision, vote); err != nil {
		return h.conductFailure(c, err, views.Form{})
	}
	return h.flashTo(c, "success", "The chair's decision is on the record.", "/assemblies/"+id+"#contribution-"+c.Param("motion"))
}

// Object records the viewer's objection to a resolution for the minutes.
func (h *Handler) Object(c echo.Context) error {
	f := formOf(c, "objection")
	id, item := c.Param("id"), c.Param("item")
	f.Values["form"] = "objection-" + item
	if err := h.Governance.Object(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, item, f.Value("objection")); err != nil {
		return h.conductFailure(c, err, f)
	}
	return h.flashTo(c, "success", "Your objection is recorded for the minutes.", "/assemblies/"+id+"#item-"+item)
}

// DeclareResults is the chair's declaration of the results.
func (h *Handler) DeclareResults(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.DeclareResults(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		return h.conductFailure(c, err, views.Form{})
	}
	return h.flashTo(c, "success", "The results are declared.", "/assemblies/"+id+"#minutes-signing")
}

// SignMinutes signs the minutes as chair or as a board member present.
func (h *Handler) SignMinutes(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.SignMinutes(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		return h.conductFailure(c, err, views.Form{})
	}
	return h.flashTo(c, "success", "You have signed the minutes.", "/assemblies/"+id+"#minutes-signing")
}

// SetChair appoints the chair of an assembly (board).
func (h *Handler) SetChair(c echo.Context) error {
	f := formOf(c, "chair_email", "chair_location")
	id := c.Param("id")
	if err := h.Governance.SetChair(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, f.Value("chair_email"), f.Value("chair_location")); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderBoardAssembly(c, status, views.BoardAssemblyView{Chair: f,
			Item: views.Form{Values: map[string]string{"kind": governance.ItemOrdinary}}})
	}
	return h.flashTo(c, "success", "The chair is appointed.", "/board/assemblies/"+id)
}
