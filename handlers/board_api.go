package handlers

import (
	"allmende/models/membership"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

type apiApproval struct {
	BoardUserID string    `json:"board_user_id"`
	BoardName   string    `json:"board_name"`
	ApprovedAt  time.Time `json:"approved_at"`
}

type apiApplication struct {
	ID              string        `json:"id"`
	UserID          string        `json:"user_id"`
	Email           string        `json:"email"`
	Name            string        `json:"name"`
	PersonKind      string        `json:"person_kind"`
	Shares          int           `json:"shares"`
	AppliedAt       time.Time     `json:"applied_at"`
	Approvals       []apiApproval `json:"approvals"`
	ApprovalsNeeded int           `json:"approvals_needed"`
}

func toAPIApprovals(as []membership.Approval) []apiApproval {
	out := make([]apiApproval, 0, len(as))
	for _, a := range as {
		out = append(out, apiApproval{BoardUserID: a.BoardUserID, BoardName: a.BoardName, ApprovedAt: a.ApprovedAt})
	}
	return out
}

// APIApplications answers GET /api/v1/applications (board).
func (h *Handler) APIApplications(c echo.Context) error {
	apps, err := h.Members.Applications(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiApplication, 0, len(apps))
	for _, a := range apps {
		out = append(out, apiApplication{ID: a.ID, UserID: a.UserID, Email: a.Email, Name: a.Name, PersonKind: a.PersonKind,
			Shares: a.Shares, AppliedAt: a.AppliedAt, Approvals: toAPIApprovals(a.Approvals), ApprovalsNeeded: a.ApprovalsNeeded})
	}
	return c.JSON(http.StatusOK, map[string]any{"applications": out})
}

type apiAdmitResult struct {
	MembershipID string `json:"membership_id"`
	Status       string `json:"status"`
	MemberNumber *int64 `json:"member_number"`
	Admitted     bool   `json:"admitted"`
}

// APIAdmit answers POST /api/v1/applications/{id}/admit: records this board
// member's approval and admits once enough board members approved.
func (h *Handler) APIAdmit(c echo.Context) error {
	m, err := h.Members.Approve(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiAdmitResult{MembershipID: m.ID, Status: string(m.Status), MemberNumber: m.MemberNumber,
		Admitted: m.Status == membership.StatusMember})
}

// APIReject answers POST /api/v1/applications/{id}/reject with {"reason": "..."}.
func (h *Handler) APIReject(c echo.Context) error {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := h.Members.Reject(c.Request().Context(), actor(c), c.Param("id"), body.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type apiRegisterEntry struct {
	MembershipID   string     `json:"membership_id"`
	MemberNumber   int64      `json:"member_number"`
	Status         string     `json:"status"`
	Name           string     `json:"name"`
	PersonKind     string     `json:"person_kind"`
	Organisation   string     `json:"organisation,omitempty"`
	Representative string     `json:"representative,omitempty"`
	Street         string     `json:"street"`
	PostalCode     string     `json:"postal_code"`
	City           string     `json:"city"`
	Country        string     `json:"country"`
	AdmittedOn     time.Time  `json:"admitted_on"`
	Shares         int        `json:"shares"`
	PaidCents      int64      `json:"paid_cents"` // capital paid in
	OwedCents      int64      `json:"owed_cents"` // subscribed capital not paid in yet
	LeftOn         *time.Time `json:"left_on"`
	LeaveReason    string     `json:"leave_reason,omitempty"`
}

// APIMembers answers GET /api/v1/members?q=&status=&page=&per_page=
// (board): a page of the register and how many entries match.
func (h *Handler) APIMembers(c echo.Context) error {
	pg, err := pageParams(c, 100, 500)
	if err != nil {
		return err
	}
	f := registerFilter(c)
	f.Limit, f.Offset = pg.PerPage, pg.Offset()
	ctx := c.Request().Context()
	total, err := h.Members.CountRegister(ctx, f)
	if err != nil {
		return err
	}
	entries, err := h.Members.Register(ctx, f)
	if err != nil {
		return err
	}
	out := make([]apiRegisterEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, apiRegisterEntry{MembershipID: e.MembershipID, MemberNumber: e.MemberNumber, Status: string(e.Status),
			Name: e.Name, PersonKind: e.PersonKind, Organisation: e.Organisation, Representative: e.Representative,
			Street: e.Street, PostalCode: e.PostalCode, City: e.City, Country: e.Country, AdmittedOn: e.AdmittedOn,
			Shares: e.Shares, PaidCents: e.PaidCents, OwedCents: e.OwedCents, LeftOn: e.LeftOn, LeaveReason: e.LeaveReason})
	}
	return c.JSON(http.StatusOK, map[string]any{"members": out, "total": total, "page": pg.Page, "per_page": pg.PerPage})
}
