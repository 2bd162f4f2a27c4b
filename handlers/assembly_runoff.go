package handlers

import (
	"allmende/views"
	"net/http"
	"strings"

	"allmende/i18n"
	"allmende/models/governance"

	"github.com/labstack/echo/v4"
)

// CloseRound closes the vote on one election of an open assembly and
// counts it, so that its runoff can follow in the same assembly.
func (h *Handler) CloseRound(c echo.Context) error {
	id, item := c.Param("id"), c.Param("item")
	r, err := h.Governance.CloseItem(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, item)
	if err != nil {
		return h.boardAssemblyFailure(c, err)
	}
	ctx := c.Request().Context()
	msg := i18n.T(ctx, "The election's vote is closed and counted: elected %s.", strings.Join(r.Elected, ", "))
	switch {
	case len(r.Runoff) > 0:
		msg = i18n.T(ctx, "The election's vote is closed and counted: nobody has the majority; open the runoff between %s.", strings.Join(r.Runoff, ", "))
	case len(r.Elected) == 0:
		msg = i18n.T(ctx, "The election's vote is closed and counted: nobody is elected.")
	}
	return h.flashTo(c, "success", msg, "/board/assemblies/"+id+"#item-"+item)
}

// OpenRunoff puts the runoff of a counted election on the agenda, voting
// until the end entered (in the cooperative's time zone).
func (h *Handler) OpenRunoff(c echo.Context) error {
	id, item := c.Param("id"), c.Param("item")
	loc, err := h.Governance.Location(c.Request().Context())
	if err != nil {
		return err
	}
	end, ok := parseMomentIn(c.FormValue("runoff_end"), loc)
	if !ok {
		return h.renderBoardAssembly(c, http.StatusUnprocessableEntity, views.BoardAssemblyView{
			Error: i18n.T(c.Request().Context(), "Enter when the runoff's vote ends as YYYY-MM-DD HH:MM (%s).", loc.String()),
			Item:  views.Form{Values: map[string]string{"kind": governance.ItemOrdinary}}})
	}
	it, err := h.Governance.OpenRunoff(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, item, end)
	if err != nil {
		return h.boardAssemblyFailure(c, err)
	}
	ctx := c.Request().Context()
	return h.flashTo(c, "success", i18n.T(ctx, "The runoff is open until %s.", views.DateTimeIn(ctx, *it.VotingEnd, loc.String())), "/board/assemblies/"+id+"#item-"+it.ID)
}
