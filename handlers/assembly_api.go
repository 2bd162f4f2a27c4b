package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/governance"
)

type apiAssembly struct {
	ID              string     `json:"id"`
	Title           string     `json:"title"`
	Description     string     `json:"description"`
	Form            string     `json:"form"`
	Status          string     `json:"status"`
	DiscussionStart time.Time  `json:"discussion_start"`
	DiscussionEnd   time.Time  `json:"discussion_end"`
	VotingStart     time.Time  `json:"voting_start"`
	VotingEnd       time.Time  `json:"voting_end"`
	InvitedAt       *time.Time `json:"invited_at"`
	OpenedAt        *time.Time `json:"opened_at"`
	ClosedAt        *time.Time `json:"closed_at"`
	ResultHash      string     `json:"result_hash"`
	CreatedAt       time.Time  `json:"created_at"`
	// What the invitation says (§46 GenG) and who chairs (§43b GenG).
	Place         string `json:"place"`
	AccessDetails string `json:"access_details"`
	TimeZone      string `json:"time_zone"`
	Chair         string `json:"chair"`
	MinutesHash   string `json:"minutes_hash"` // SHA-256 of the signed minutes; empty until the first signature
}

type apiCandidate struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type apiAgendaItem struct {
	ID          string         `json:"id"`
	Position    int            `json:"position"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Kind        string         `json:"kind"`
	ProposalID  string         `json:"proposal_id"`
	Secret      bool           `json:"secret"`
	MajorityNum int            `json:"majority_num"`
	MajorityDen int            `json:"majority_den"`
	Quorum      int            `json:"quorum"`
	Seats       int            `json:"seats"`
	Candidates  []apiCandidate `json:"candidates"`
}

type apiVotingRight struct {
	OnBehalfOf string          `json:"on_behalf_of"`
	Name       string          `json:"name"`
	Voted      map[string]bool `json:"voted"`
}

type apiProxy struct {
	GrantorName string     `json:"grantor_name"`
	ProxyName   string     `json:"proxy_name"`
	Declaration string     `json:"declaration"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

type apiAssemblyDetail struct {
	apiAssembly
	Items       []apiAgendaItem  `json:"items"`
	Rights      []apiVotingRight `json:"rights"`
	ProxyGiven  *apiProxy        `json:"proxy_given"`
	ProxiesHeld []apiProxy       `json:"proxies_held"`
	Electorate  int              `json:"electorate"`
}

func toAPIAssembly(a *governance.Assembly) apiAssembly {
	return apiAssembly{ID: a.ID, Title: a.Title, Description: a.Description, Form: a.Form, Status: a.Status,
		DiscussionStart: a.DiscussionStart, DiscussionEnd: a.DiscussionEnd, VotingStart: a.VotingStart, VotingEnd: a.VotingEnd,
		InvitedAt: a.InvitedAt, OpenedAt: a.OpenedAt, ClosedAt: a.ClosedAt, ResultHash: a.ResultHash, CreatedAt: a.CreatedAt,
		Place: a.Place, AccessDetails: a.AccessDetails, TimeZone: a.TimeZone, Chair: a.ChairName, MinutesHash: a.MinutesHash}
}

func toAPIProxy(p *governance.Proxy) apiProxy {
	return apiProxy{GrantorName: p.GrantorName, ProxyName: p.ProxyName, Declaration: p.Declaration,
		CreatedAt: p.CreatedAt, RevokedAt: p.RevokedAt}
}

func toAPIAssemblyDetail(d *governance.AssemblyDetail) apiAssemblyDetail {
	out := apiAssemblyDetail{apiAssembly: toAPIAssembly(&d.Assembly), Items: make([]apiAgendaItem, 0, len(d.Items)),
		Rights: make([]apiVotingRight, 0, len(d.Rights)), ProxiesHeld: make([]apiProxy, 0, len(d.ProxiesHeld)),
		Electorate: d.Electorate}
	for _, it := range d.Items {
		cands := make([]apiCandidate, 0, len(it.Candidates))
		for _, c := range it.Candidates {
			cands = append(cands, apiCandidate{ID: c.ID, Name: c.Name})
		}
		out.Items = append(out.Items, apiAgendaItem{ID: it.ID, Position: it.Position, Title: it.Title, Description: it.Description,
			Kind: it.Kind, ProposalID: it.ProposalID, Secret: it.Secret, MajorityNum: it.MajorityNum, MajorityDen: it.MajorityDen,
			Quorum: it.Quorum, Seats: it.Seats, Candidates: cands})
	}
	for _, r := range d.Rights {
		voted := r.Voted
		if voted == nil {
			voted = map[string]bool{}
		}
		out.Rights = append(out.Rights, apiVotingRight{OnBehalfOf: r.OnBehalfOf, Name: r.Name, Voted: voted})
	}
	if d.ProxyGiven != nil {
		p := toAPIProxy(d.ProxyGiven)
		out.ProxyGiven = &p
	}
	for i := range d.ProxiesHeld {
		out.ProxiesHeld = append(out.ProxiesHeld, toAPIProxy(&d.ProxiesHeld[i]))
	}
	return out
}

// APIAssemblies answers GET /api/v1/assemblies.
func (h *Handler) APIAssemblies(c echo.Context) error {
	as, err := h.Governance.Assemblies(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	out := make([]apiAssembly, 0, len(as))
	for i := range as {
		out = append(out, toAPIAssembly(&as[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"assemblies": out})
}

// APIAssembly answers GET /api/v1/assemblies/{id}: the agenda and the
// caller's voting rights and proxies.
func (h *Handler) APIAssembly(c echo.Context) error {
	d, err := h.Governance.Assembly(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIAssemblyDetail(d))
}

// apiProxyRequest is the body of POST /api/v1/assemblies/{id}/proxy:
// either the proxy's email and the declaration, or {"revoke": true}.
type apiProxyRequest struct {
	ProxyEmail string `json:"proxy_email"`
	// A proxy who is not a member, where the bylaws allow relatives:
	// spouse, registered_partner, parent, child or sibling.
	Relationship string `json:"relationship"`
	Declaration  string `json:"declaration"`
	Revoke       bool   `json:"revoke"`
}

// APIProxy answers POST /api/v1/assemblies/{id}/proxy with 204.
func (h *Handler) APIProxy(c echo.Context) error {
	var body apiProxyRequest
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	ctx, v, id := c.Request().Context(), viewer(CurrentUser(c)), c.Param("id")
	if body.Revoke {
		if body.ProxyEmail != "" || body.Declaration != "" {
			return models.Invalid(map[string]string{"revoke": "Either grant a proxy or revoke it, not both."})
		}
		if err := h.Governance.RevokeProxy(ctx, actor(c), v, id); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
	if err := h.Governance.GrantProxyTo(ctx, actor(c), v, id, body.ProxyEmail, body.Declaration, body.Relationship); err != nil {
		return renameField(err, "email", "proxy_email")
	}
	return c.NoContent(http.StatusNoContent)
}

// apiBallotRequest is the body of POST /api/v1/assemblies/{id}/items/{item}/ballot.
type apiBallotRequest struct {
	OnBehalfOf   string   `json:"on_behalf_of"`
	Choice       string   `json:"choice"`
	CandidateIDs []string `json:"candidate_ids"`
}

type apiReceipt struct {
	ItemID string `json:"item_id"`
}

// APICastBallot answers POST /api/v1/assemblies/{id}/items/{item}/ballot
// with 201 and the receipt; a second ballot for the same vote is a 409.
func (h *Handler) APICastBallot(c echo.Context) error {
	var body apiBallotRequest
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	r, err := h.Governance.Cast(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), c.Param("item"),
		governance.BallotInput{OnBehalfOf: body.OnBehalfOf, Choice: body.Choice, CandidateIDs: body.CandidateIDs})
	if err != nil {
		return renameField(err, "candidates", "candidate_ids")
	}
	return c.JSON(http.StatusCreated, apiReceipt{ItemID: r.ItemID})
}

type apiPublishedBallot struct {
	Code   string `json:"code,omitempty"`
	Voter  string `json:"voter,omitempty"`
	Choice string `json:"choice"`
}

type apiItemResult struct {
	ItemID         string               `json:"item_id"`
	Title          string               `json:"title"`
	Kind           string               `json:"kind"`
	Secret         bool                 `json:"secret"`
	Yes            int                  `json:"yes"`
	No             int                  `json:"no"`
	Abstain        int                  `json:"abstain"`
	Cast           int                  `json:"cast"`
	Electorate     int                  `json:"electorate"`
	MajorityNum    int                  `json:"majority_num"`
	MajorityDen    int                  `json:"majority_den"`
	Quorum         int                  `json:"quorum"`
	Adopted        bool                 `json:"adopted"`
	Elected        []string             `json:"elected"`
	Tie            []string             `json:"tie"`
	CandidateVotes map[string]int       `json:"candidate_votes"`
	Ballots        []apiPublishedBallot `json:"ballots"`
}

type apiResults struct {
	AssemblyID string          `json:"assembly_id"`
	ClosedAt   time.Time       `json:"closed_at"`
	ResultHash string          `json:"result_hash"`
	Items      []apiItemResult `json:"items"`
}

// APIResults answers GET /api/v1/assemblies/{id}/results; 409 while the
// assembly has not closed.
func (h *Handler) APIResults(c echo.Context) error {
	r, err := h.Governance.Results(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	out := apiResults{AssemblyID: r.AssemblyID, ClosedAt: r.ClosedAt, ResultHash: r.ResultHash, Items: make([]apiItemResult, 0, len(r.Items))}
	for _, it := range r.Items {
		res := apiItemResult{ItemID: it.ItemID, Title: it.Title, Kind: it.Kind, Secret: it.Secret, Yes: it.Yes, No: it.No,
			Abstain: it.Abstain, Cast: it.Cast, Electorate: it.Electorate, MajorityNum: it.MajorityNum, MajorityDen: it.MajorityDen,
			Quorum: it.Quorum, Adopted: it.Adopted, Elected: it.Elected, Tie: it.Tie, CandidateVotes: it.CandidateVotes,
			Ballots: make([]apiPublishedBallot, 0, len(it.Ballots))}
		if res.Elected == nil {
			res.Elected = []string{}
		}
		if res.Tie == nil {
			res.Tie = []string{}
		}
		if res.CandidateVotes == nil {
			res.CandidateVotes = map[string]int{}
		}
		for _, b := range it.Ballots {
			res.Ballots = append(res.Ballots, apiPublishedBallot{Code: b.Code, Voter: b.Voter, Choice: b.Choice})
		}
		out.Items = append(out.Items, res)
	}
	return c.JSON(http.StatusOK, out)
}
