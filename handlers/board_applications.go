package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/views"
)

// ShowApplications lists the open applications for the board.
func (h *Handler) ShowApplications(c echo.Context) error {
	apps, err := h.Members.Applications(c.Request().Context())
	if err != nil {
		return err
	}
	p, err := h.page(c, "Applications", "applications")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ApplicationsPage(p, apps))
}

// ShowApplication shows one application with its declaration.
func (h *Handler) ShowApplication(c echo.Context) error {
	return h.renderApplication(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderApplication(c echo.Context, status int, reject views.Form) error {
	d, err := h.Members.Application(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Application", "applications")
	if err != nil {
		return err
	}
	return render(c, status, views.ApplicationPage(p, d, reject))
}

// ApproveApplication records the board member's approval; enough of them
// admit the applicant.
func (h *Handler) ApproveApplication(c echo.Context) error {
	m, err := h.Members.Approve(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		// An application decided meanwhile (perhaps by another board
		// member's click) has no page any more: back to the queue then.
		back := "/board/applications/" + c.Param("id")
		if _, aerr := h.Members.Application(c.Request().Context(), c.Param("id")); aerr != nil {
			back = "/board/applications"
		}
		return h.refused(c, err, back)
	}
	msg := "Your approval is recorded; another board member needs to confirm it."
	if m.MemberNumber != nil {
		msg = "Admitted as member " + itoa64(*m.MemberNumber) + "."
	}
	if err := h.Sessions.AddFlash(c, "success", msg); err != nil {
		return err
	}
	return redirect(c, "/board/applications")
}

// RejectApplication rejects with a reason; the applicant's data is deleted.
func (h *Handler) RejectApplication(c echo.Context) error {
	f := formOf(c, "reason")
	err := h.Members.Reject(c.Request().Context(), actor(c), c.Param("id"), f.Value("reason"))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderApplication(c, status, f)
	}
	if err := h.Sessions.AddFlash(c, "success", "The application was rejected and its personal data deleted."); err != nil {
		return err
	}
	return redirect(c, "/board/applications")
}
