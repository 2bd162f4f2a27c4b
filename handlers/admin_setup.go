package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/views"
)

// AdminSetup is the getting-started page: the first-run path from a fresh
// install to a VM.
func (h *Handler) AdminSetup(c echo.Context) error {
	return h.renderSetup(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderSetup(c echo.Context, status int, f views.Form) error {
	ctx := c.Request().Context()
	hosts, err := h.Hosts.List(ctx)
	if err != nil {
		return err
	}
	set, err := h.Starter.Get(ctx, viewer(CurrentUser(c)), f.Value("host_id"))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Getting started", "setup")
	if err != nil {
		return err
	}
	if f.Values == nil {
		f.Values = map[string]string{}
	}
	return render(c, status, views.AdminSetupPage(p, views.SetupData{Hosts: hosts, Set: set, Form: f}))
}

// AdminSetupStatus is the htmx partial the page polls while the starter
// images are made.
func (h *Handler) AdminSetupStatus(c echo.Context) error {
	set, err := h.Starter.Get(c.Request().Context(), viewer(CurrentUser(c)), c.QueryParam("host_id"))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AdminSetupStatus(set))
}

// AdminCreateStarter makes the starter plan and images (where missing)
// and queues their build.
func (h *Handler) AdminCreateStarter(c echo.Context) error {
	f := formOf(c, "host_id")
	set, err := h.Starter.Create(c.Request().Context(), actor(c), viewer(CurrentUser(c)), f.Value("host_id"))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderSetup(c, status, f)
	}
	msg := "The starter plan and image are being made."
	switch {
	case set.Ready():
		msg = "The starter plan and image are ready."
	case !set.Changed:
		msg = "The starter plan and image are being made already."
	}
	return h.flashTo(c, "success", msg, "/admin/setup")
}
