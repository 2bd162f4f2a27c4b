package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models/account"
	"allmende/models/governance"
	"allmende/models/rulebook"
	"allmende/views"
)

// ShowRules is the registry: every rule with its value in force, since
// when, and the decision that adopted it.
func (h *Handler) ShowRules(c echo.Context) error {
	return h.renderRules(c, http.StatusOK, views.Form{})
}

// renderRules shows the registry with the adopted bylaw changes; reg is the
// board's registration form (with the change's id in "id").
func (h *Handler) renderRules(c echo.Context, status int, reg views.Form) error {
	ctx, u := c.Request().Context(), CurrentUser(c)
	rules, err := h.Governance.Registry(ctx)
	if err != nil {
		return err
	}
	regs, err := h.Governance.Registrations(ctx, viewer(u))
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(rules))
	for _, r := range rules {
		ids = append(ids, r.AdoptedBy)
	}
	decisions, err := h.Governance.Decisions(ctx, ids)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Rules", "rules")
	if err != nil {
		return err
	}
	return render(c, status, views.RulesPage(p, rules, decisions, regs, u.Has(account.RoleBoard), reg))
}

// RecordRegistration records the day an adopted bylaw change was entered
// in the register of cooperatives (§16(6) GenG); it is in force from then.
func (h *Handler) RecordRegistration(c echo.Context) error {
	f := formOf(c, "registered_on")
	f.Values["id"] = c.Param("id")
	day, ok := parseDay(f.Value("registered_on"))
	if !ok {
		fieldErr(&f, "registered_on", "Enter the day as YYYY-MM-DD.")
		return h.renderRules(c, http.StatusUnprocessableEntity, f)
	}
	r, err := h.Governance.RecordRegistration(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), day)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		if f.Error == "" && len(f.Errors) == 0 {
			f.Error = errText(c.Request().Context(), err)
		}
		return h.renderRules(c, status, f)
	}
	ctx := c.Request().Context()
	return h.flashTo(c, "success", i18n.T(ctx, "The registration of %s is recorded; the change is in force from %s.", r.ProposalTitle, i18n.Date(ctx, *r.RegisteredOn)), "/rules#registrations")
}

// ShowRule is one rule's version history, each version with the change
// from the one before; ?from=&to= (version ids) compares any two.
func (h *Handler) ShowRule(c echo.Context) error {
	ctx, key := c.Request().Context(), c.Param("key")
	versions, err := h.Governance.RuleHistory(ctx, key)
	if err != nil {
		return err
	}
	rules, err := h.Governance.Registry(ctx)
	if err != nil {
		return err
	}
	rv := views.RuleView{Info: governance.RuleInfo{Key: key, Title: key}, Versions: versions}
	for _, r := range rules {
		if r.Key == key {
			rv.Info = r
		}
	}
	for i, v := range versions {
		step := views.RuleStep{Version: v}
		if i > 0 {
			step.Diff = governance.Diff(versions[i-1].Value, v.Value)
		}
		rv.Steps = append(rv.Steps, step)
	}
	rv.From, rv.To = c.QueryParam("from"), c.QueryParam("to")
	if rv.From != "" || rv.To != "" {
		from, okFrom := versionByID(versions, rv.From)
		to, okTo := versionByID(versions, rv.To)
		if !okFrom || !okTo {
			rv.CompareError = "Choose two versions of this rule to compare."
		} else {
			rv.Compare = governance.Diff(from.Value, to.Value)
		}
	}
	ids := make([]string, 0, len(versions))
	for _, v := range versions {
		ids = append(ids, v.AdoptedBy)
	}
	if rv.Decisions, err = h.Governance.Decisions(ctx, ids); err != nil {
		return err
	}
	p, err := h.page(c, rv.Info.Title, "rules")
	if err != nil {
		return err
	}
	status := http.StatusOK
	if rv.CompareError != "" {
		status = http.StatusUnprocessableEntity
	}
	return render(c, status, views.RulePage(p, rv))
}

func versionByID(vs []rulebook.RuleVersion, id string) (rulebook.RuleVersion, bool) {
	for _, v := range vs {
		if v.ID == id {
			return v, true
		}
	}
	return rulebook.RuleVersion{}, false
}

// apiRule is the JSON shape of a line of the rules registry.
type apiRule struct {
	Key           string    `json:"key"`
	Title         string    `json:"title"`
	Kind          string    `json:"kind"`
	Bylaw         bool      `json:"bylaw"`
	Value         string    `json:"value"`
	EffectiveFrom time.Time `json:"effective_from"`
	AdoptedBy     string    `json:"adopted_by"`
	Versions      int       `json:"versions"`
}

// APIRules answers GET /api/v1/rules.
func (h *Handler) APIRules(c echo.Context) error {
	rules, err := h.Governance.Registry(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiRule, 0, len(rules))
	for _, r := range rules {
		out = append(out, apiRule{Key: r.Key, Title: r.Title, Kind: r.Kind, Bylaw: r.Bylaw, Value: r.Value,
			EffectiveFrom: r.EffectiveFrom, AdoptedBy: r.AdoptedBy, Versions: r.Versions})
	}
	return c.JSON(http.StatusOK, map[string]any{"rules": out})
}
