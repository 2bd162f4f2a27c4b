package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models/governance"
)

// APISetUpElection answers POST /api/v1/assemblies/{id}/election (board):
// names the trustees of the assembly's secret items and how many of them
// must decrypt together, as the election page's form does; naming them
// anew starts the key ceremony over. The ceremony itself happens in the
// trustees' browsers; the answer is the election as GET shows it.
func (h *Handler) APISetUpElection(c echo.Context) error {
	var in struct {
		Trustees  []string `json:"trustees"`
		Threshold int      `json:"threshold"`
		Revote    bool     `json:"revote"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx, id, v := c.Request().Context(), c.Param("id"), viewer(CurrentUser(c))
	err := h.Governance.SetUpElection(ctx, actor(c), v, id,
		governance.ElectionInput{TrusteeEmails: in.Trustees, Threshold: in.Threshold, Revote: in.Revote})
	if err != nil {
		return err
	}
	view, err := h.Governance.Election(ctx, v, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}
