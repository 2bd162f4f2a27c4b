package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/governance"
)

// apiProposalRequest is the body of POST /api/v1/proposals. Parameter
// values may be given as strings or numbers; effective_from is a date.
type apiProposalRequest struct {
	Title         string         `json:"title"`
	Reasoning     string         `json:"reasoning"`
	Kind          string         `json:"kind"`
	RuleKey       string         `json:"rule_key"`
	NewText       string         `json:"new_text"`
	Parameters    map[string]any `json:"parameters"`
	EffectiveFrom string         `json:"effective_from"`
}

type apiProposal struct {
	ID            string            `json:"id"`
	AuthorName    string            `json:"author_name"`
	Title         string            `json:"title"`
	Reasoning     string            `json:"reasoning"`
	Kind          string            `json:"kind"`
	RuleKey       string            `json:"rule_key"`
	NewText       string            `json:"new_text"`
	Parameters    map[string]string `json:"parameters"`
	EffectiveFrom *string           `json:"effective_from"`
	Status        string            `json:"status"`
	Supporters    int               `json:"supporters"`
	CreatedAt     time.Time         `json:"created_at"`
}

func toAPIProposal(p *governance.Proposal) apiProposal {
	params := p.Parameters
	if params == nil {
		params = map[string]string{}
	}
	out := apiProposal{ID: p.ID, AuthorName: p.AuthorName, Title: p.Title, Reasoning: p.Reasoning, Kind: p.Kind,
		RuleKey: p.RuleKey, NewText: p.NewText, Parameters: params, Status: p.Status, Supporters: p.Supporters,
		CreatedAt: p.CreatedAt}
	if !p.EffectiveFrom.IsZero() {
		d := apiDate(p.EffectiveFrom)
		out.EffectiveFrom = &d
	}
	return out
}

// APIProposals answers GET /api/v1/proposals: newest first, searched by
// q and status, a page of limit at a time; next is the before of the
// following page.
func (h *Handler) APIProposals(c echo.Context) error {
	cur, err := cursorParams(c, governance.DefaultProposalLimit, 100)
	if err != nil {
		return err
	}
	f := governance.ProposalFilter{Query: c.QueryParam("q"), Status: c.QueryParam("status"), Before: cur.Before, Limit: cur.Limit}
	res, err := h.Governance.FindProposals(c.Request().Context(), viewer(CurrentUser(c)), f)
	if err != nil {
		return err
	}
	out := make([]apiProposal, 0, len(res.Proposals))
	for i := range res.Proposals {
		out = append(out, toAPIProposal(&res.Proposals[i]))
	}
	var next *string
	if res.Next != "" {
		next = &res.Next
	}
	return c.JSON(http.StatusOK, map[string]any{"proposals": out, "next": next, "support_needed": res.SupportNeeded})
}

// APISubmitProposal answers POST /api/v1/proposals.
func (h *Handler) APISubmitProposal(c echo.Context) error {
	var body apiProposalRequest
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	in := governance.ProposalInput{Title: body.Title, Reasoning: body.Reasoning, Kind: body.Kind,
		RuleKey: body.RuleKey, NewText: body.NewText}
	fields := map[string]string{}
	if body.Parameters != nil {
		in.Parameters = make(map[string]string, len(body.Parameters))
		for k, v := range body.Parameters {
			switch x := v.(type) {
			case string:
				in.Parameters[k] = strings.TrimSpace(x)
			case float64:
				in.Parameters[k] = strconv.FormatFloat(x, 'f', -1, 64)
			default:
				fields["param:"+k] = "Give the new value as a string or a number."
			}
		}
	}
	if s := strings.TrimSpace(body.EffectiveFrom); s != "" {
		d, ok := parseDay(s)
		if !ok {
			fields["effective_from"] = "Give a date as YYYY-MM-DD."
		}
		in.EffectiveFrom = d
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	p, err := h.Governance.Submit(c.Request().Context(), actor(c), viewer(CurrentUser(c)), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAPIProposal(p))
}

// APISupportProposal answers POST /api/v1/proposals/{id}/support with the
// proposal and its new count of supporters; a second time is a 409.
func (h *Handler) APISupportProposal(c echo.Context) error {
	ctx, v, id := c.Request().Context(), viewer(CurrentUser(c)), c.Param("id")
	if err := h.Governance.Support(ctx, actor(c), v, id); err != nil {
		return err
	}
	d, err := h.Governance.Proposal(ctx, v, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIProposal(&d.Proposal))
}
