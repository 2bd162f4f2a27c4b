package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/compute"
	"allmende/views"
)

// AdminPlans lists the plans with the form for a new one.
func (h *Handler) AdminPlans(c echo.Context) error {
	return h.renderAdminPlans(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderAdminPlans(c echo.Context, status int, f views.Form) error {
	plans, err := h.Plans.List(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Plans", "plans")
	if err != nil {
		return err
	}
	return render(c, status, views.AdminPlansPage(p, plans, f))
}

// planInput reads the plan form; ok is false when a number is not one.
func planInput(c echo.Context) (views.Form, compute.PlanInput, bool) {
	f := formOf(c, "name", "vcpus", "memory_mib", "disk_gib")
	in := compute.PlanInput{Name: f.Value("name")}
	ok := catalogInts(&f, map[string]*int{"vcpus": &in.VCPUs, "memory_mib": &in.MemoryMiB, "disk_gib": &in.DiskGiB})
	return f, in, ok
}

// AdminCreatePlan adds a plan.
func (h *Handler) AdminCreatePlan(c echo.Context) error {
	f, in, ok := planInput(c)
	if !ok {
		return h.renderAdminPlans(c, http.StatusUnprocessableEntity, f)
	}
	plan, err := h.Plans.Create(c.Request().Context(), actor(c), viewer(CurrentUser(c)), in)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderAdminPlans(c, status, f)
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Plan %s created.", plan.Name), "/admin/plans")
}

// AdminEditPlan shows the form to change a plan.
func (h *Handler) AdminEditPlan(c echo.Context) error {
	plan, err := h.Plans.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	f := views.Form{Values: map[string]string{
		"name": plan.Name, "vcpus": strconv.Itoa(plan.VCPUs),
		"memory_mib": strconv.Itoa(plan.MemoryMiB), "disk_gib": strconv.Itoa(plan.DiskGiB),
	}}
	return h.renderAdminPlanEdit(c, http.StatusOK, plan, f)
}

func (h *Handler) renderAdminPlanEdit(c echo.Context, status int, plan *compute.Plan, f views.Form) error {
	p, err := h.page(c, "Edit plan", "plans")
	if err != nil {
		return err
	}
	return render(c, status, views.AdminPlanEditPage(p, plan, f))
}

// AdminUpdatePlan changes a plan.
func (h *Handler) AdminUpdatePlan(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	plan, err := h.Plans.Get(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	f, in, ok := planInput(c)
	if !ok {
		return h.renderAdminPlanEdit(c, http.StatusUnprocessableEntity, plan, f)
	}
	updated, err := h.Plans.Update(ctx, actor(c), v, plan.ID, in)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderAdminPlanEdit(c, status, plan, f)
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Plan %s saved.", updated.Name), "/admin/plans")
}

// AdminDeletePlan deletes a plan no VM used, and retires one that VMs use.
func (h *Handler) AdminDeletePlan(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	plan, err := h.Plans.Get(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.Plans.Delete(ctx, actor(c), v, plan.ID); err != nil {
		if _, ok := models.AsError(err); !ok {
			return err
		}
		return h.flashTo(c, "error", errText(c.Request().Context(), err), "/admin/plans")
	}
	msg := i18n.T(ctx, "Plan %s deleted.", plan.Name)
	if _, err := h.Plans.Get(ctx, v, plan.ID); err == nil {
		msg = i18n.T(ctx, "Virtual machines use plan %s, so it was retired: it is no longer offered.", plan.Name)
	}
	return h.flashTo(c, "success", msg, "/admin/plans")
}

// catalogInts parses whole-number form fields into their targets. An empty
// field counts as 0, which the domain rejects with its own message; text
// that is not a number gets a field error here, and ok is false.
func catalogInts(f *views.Form, targets map[string]*int) bool {
	ok := true
	for name, dst := range targets {
		s := strings.TrimSpace(f.Value(name))
		if s == "" {
			*dst = 0
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			if f.Errors == nil {
				f.Errors = map[string]string{}
			}
			f.Errors[name] = "Enter a whole number."
			ok = false
			continue
		}
		*dst = n
	}
	return ok
}
