package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models/governance"
	"allmende/models/rulebook"
	"allmende/views"
)

// ShowRules is the registry: every rule with its value in force, since
// when, and the decision that adopted it.
func (h *Handler) ShowRules(c echo.Context) error {
	rules, err := h.Governance.Registry(c.Request().Context())
	if err != nil {
		return err
	}
	p, err := h.page(c, "Rules", "rules")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.RulesPage(p, rules))
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
		out = append(out, apiRule{Key: r.Key, Title: r.Title, Kind: r.Kind, Value: r.Value,
			EffectiveFrom: r.EffectiveFrom, AdoptedBy: r.AdoptedBy, Versions: r.Versions})
	}
	return c.JSON(http.StatusOK, map[string]any{"rules": out})
}
