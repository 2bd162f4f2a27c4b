package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models/governance"
	"allmende/views"
)

// proposalFields are the single-valued inputs of the proposal form; each
// parameter has its own input, named by paramField.
var proposalFields = []string{"title", "reasoning", "kind", "parameter", "new_value", "rule_key", "new_text", "effective_from"}

// ShowProposals lists the proposals with their status and support, a
// page at a time, searched by ?q= and ?status=.
func (h *Handler) ShowProposals(c echo.Context) error {
	pg, err := pageParams(c, governance.DefaultProposalLimit, 100)
	if err != nil {
		return err
	}
	f := governance.ProposalFilter{Query: c.QueryParam("q"), Status: c.QueryParam("status"), Limit: pg.PerPage, Offset: pg.Offset()}
	res, err := h.Governance.FindProposals(c.Request().Context(), viewer(CurrentUser(c)), f)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Proposals", "proposals")
	if err != nil {
		return err
	}
	q := strings.TrimSpace(f.Query)
	paging := pg.View("/proposals", url.Values{"q": {q}, "status": {f.Status}}, res.Total)
	return render(c, http.StatusOK, views.ProposalsPage(p, views.ProposalsView{Query: q, Status: f.Status,
		Proposals: res.Proposals, Paging: paging, SupportNeeded: res.SupportNeeded}))
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
	f := formOf(c, proposalFields...)
	in := governance.ProposalInput{Title: f.Value("title"), Reasoning: f.Value("reasoning"), Kind: f.Value("kind")}
	switch in.Kind {
	case governance.ProposalParameters:
		key, value := strings.TrimSpace(f.Value("parameter")), strings.TrimSpace(f.Value("new_value"))
		if key == "" {
			fieldErr(&f, "parameter", "Choose the parameter to change.")
			return h.renderNewProposal(c, http.StatusUnprocessableEntity, f)
		}
		if value == "" {
			fieldErr(&f, "new_value", "Enter the new value.")
			return h.renderNewProposal(c, http.StatusUnprocessableEntity, f)
		}
		// Prices and the share are typed in euros and stored in cents.
		if views.IsMoneyRule(key) {
			cents, ok := parseMoney(value, localeOf(c))
			if !ok {
				fieldErr(&f, "new_value", "Enter an amount in euros, such as 120,50.")
				return h.renderNewProposal(c, http.StatusUnprocessableEntity, f)
			}
			value = itoa64(cents)
		}
		in.Parameters = map[string]string{key: value}
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
		f.Errors = proposalFieldErrors(f.Errors)
		return h.renderNewProposal(c, status, f)
	}
	return h.flashTo(c, "success", "Your proposal has been submitted. Other members can now comment on and support it.", "/proposals/"+pr.ID)
}

// proposalFieldErrors moves the domain's message about the parameter
// ("param:KEY") onto the new value's input.
func proposalFieldErrors(fields map[string]string) map[string]string {
	out := make(map[string]string, len(fields))
	for k, msg := range fields {
		if _, ok := strings.CutPrefix(k, "param:"); ok {
			out["new_value"] = msg
			continue
		}
		if k == "parameters" {
			k = "parameter"
		}
		out[k] = msg
	}
	return out
}

// ShowProposal is a proposal with its comments and the support button.
func (h *Handler) ShowProposal(c echo.Context) error {
	return h.renderProposal(c, http.StatusOK, views.Form{}, "")
}

func (h *Handler) renderProposal(c echo.Context, status int, comment views.Form, supportErr string) error {
	ctx := c.Request().Context()
	d, err := h.Governance.Proposal(ctx, viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	rules, err := h.Governance.Registry(ctx)
	if err != nil {
		return err
	}
	p, err := h.page(c, d.Title, "proposals")
	if err != nil {
		return err
	}
	return render(c, status, views.ProposalPage(p, d, rules, comment, supportErr))
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
