package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models/governance"
	"allmende/views"
)

// proposalFields are the single-valued inputs of the proposal form; each
// parameter has its own input, named by paramField.
var proposalFields = []string{"title", "reasoning", "kind", "rule_key", "new_text", "effective_from"}

// paramField is the form input of one rule parameter.
func paramField(key string) string { return "param_" + key }

// ShowProposals lists the proposals with their status and support.
func (h *Handler) ShowProposals(c echo.Context) error {
	ps, err := h.Governance.Proposals(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	p, err := h.page(c, "Proposals", "proposals")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ProposalsPage(p, ps))
}

// ShowNewProposal is the form for a proposal, a parameter change by default.
func (h *Handler) ShowNewProposal(c echo.Context) error {
	return h.renderNewProposal(c, http.StatusOK, views.Form{Values: map[string]string{"kind": governance.ProposalParameters}})
}

func (h *Handler) renderNewProposal(c echo.Context, status int, f views.Form) error {
	rules, err := h.Governance.Registry(c.Request().Context())
	if err != nil {
		return err
	}
	p, err := h.page(c, "New proposal", "proposals")
	if err != nil {
		return err
	}
	return render(c, status, views.NewProposalPage(p, rules, f))
}

// SubmitProposal files a proposal. Of the parameter inputs only the filled
// ones count: an empty input keeps the value in force.
func (h *Handler) SubmitProposal(c echo.Context) error {
	ctx := c.Request().Context()
	rules, err := h.Governance.Registry(ctx)
	if err != nil {
		return err
	}
	f := formOf(c, proposalFields...)
	in := governance.ProposalInput{Title: f.Value("title"), Reasoning: f.Value("reasoning"), Kind: f.Value("kind")}
	params := map[string]string{}
	for _, r := range rules {
		if r.Kind != governance.RuleKindParameter {
			continue
		}
		name := paramField(r.Key)
		f.Values[name] = c.FormValue(name)
		if v := strings.TrimSpace(f.Values[name]); v != "" {
			params[r.Key] = v
		}
	}
	switch in.Kind {
	case governance.ProposalParameters:
		in.Parameters = params
	case governance.ProposalText:
		in.RuleKey, in.NewText = f.Value("rule_key"), f.Value("new_text")
	}
	if s := strings.TrimSpace(f.Value("effective_from")); s != "" {
		d, ok := parseDay(s)
		if !ok {
			fieldErr(&f, "effective_from", "Enter a date as YYYY-MM-DD.")
			return h.renderNewProposal(c, http.StatusUnprocessableEntity, f)
		}
		in.EffectiveFrom = d
	}
	pr, err := h.Governance.Submit(ctx, actor(c), viewer(CurrentUser(c)), in)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		f.Errors = proposalFieldErrors(f.Errors, rules)
		return h.renderNewProposal(c, status, f)
	}
	return h.flashTo(c, "success", "Your proposal has been submitted. Other members can now comment on and support it.", "/proposals/"+pr.ID)
}

// proposalFieldErrors moves the domain's messages about single parameters
// ("param:KEY") onto that parameter's input; a key the form has no input
// for (an API client's typo) goes to the parameters as a whole.
func proposalFieldErrors(fields map[string]string, rules []governance.RuleInfo) map[string]string {
	isParam := map[string]bool{}
	for _, r := range rules {
		isParam[r.Key] = r.Kind == governance.RuleKindParameter
	}
	out := make(map[string]string, len(fields))
	for k, msg := range fields {
		key, ok := strings.CutPrefix(k, "param:")
		switch {
		case !ok:
			out[k] = msg
		case isParam[key]:
			out[paramField(key)] = msg
		default:
			out["parameters"] = key + ": " + msg
		}
	}
	return out
}

// ShowProposal is a proposal with its comments and the support button.
func (h *Handler) ShowProposal(c echo.Context) error {
	return h.renderProposal(c, http.StatusOK, views.Form{}, "")
}

func (h *Handler) renderProposal(c echo.Context, status int, comment views.Form, supportErr string) error {
	d, err := h.Governance.Proposal(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.page(c, d.Title, "proposals")
	if err != nil {
		return err
	}
	return render(c, status, views.ProposalPage(p, d, comment, supportErr))
}

// CommentOnProposal adds a comment to the discussion of a proposal.
func (h *Handler) CommentOnProposal(c echo.Context) error {
	f := formOf(c, "text")
	id := c.Param("id")
	if err := h.Governance.Comment(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, f.Value("text")); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderProposal(c, status, f, "")
	}
	return h.flashTo(c, "success", "Your comment has been added.", "/proposals/"+id)
}

// SupportProposal records the viewer's support; twice is a conflict.
func (h *Handler) SupportProposal(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.Support(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &views.Form{})
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderProposal(c, status, views.Form{}, errText(c.Request().Context(), err))
	}
	return h.flashTo(c, "success", "Thank you: your support has been recorded.", "/proposals/"+id)
}
