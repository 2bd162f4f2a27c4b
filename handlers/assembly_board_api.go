package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/governance"
)

// The board's running of a general assembly in the API: convene it, set
// its agenda and chair, invite, open the vote, close it; close one
// election's round and open its runoff; appoint those elected. Twins of
// assembly_board.go, assembly_conduct.go and assembly_runoff.go, calling
// the same domain methods. Times are RFC 3339 (with an offset); calendar
// days YYYY-MM-DD.

// apiMoments reads RFC 3339 times of a request body; a blank one is the
// zero time, which the domain refuses where a time is needed.
func apiMoments(dates map[string]*time.Time, raw map[string]string) error {
	fields := map[string]string{}
	for name, dst := range dates {
		s := strings.TrimSpace(raw[name])
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			fields[name] = "Enter a time as RFC 3339, like 2027-03-01T18:00:00+01:00."
			continue
		}
		*dst = t
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return nil
}

// assemblyAnswer answers with the assembly as GET /assemblies/{id} shows it.
func (h *Handler) assemblyAnswer(c echo.Context, status int, id string) error {
	d, err := h.Governance.Assembly(c.Request().Context(), viewer(CurrentUser(c)), id)
	if err != nil {
		return err
	}
	return c.JSON(status, toAPIAssemblyDetail(d))
}

// apiAssemblyRequest is the body of POST /api/v1/assemblies.
type apiAssemblyRequest struct {
	Title           string `json:"title"`
	Description     string `json:"description"`
	Form            string `json:"form"`
	DiscussionStart string `json:"discussion_start"`
	DiscussionEnd   string `json:"discussion_end"`
	VotingStart     string `json:"voting_start"`
	VotingEnd       string `json:"voting_end"`
	Place           string `json:"place"`
	AccessDetails   string `json:"access_details"`
	DiscussionForm  string `json:"discussion_form"`
	DemandID        string `json:"demand_id"`
}

// APICreateAssembly answers POST /api/v1/assemblies (board): a planned
// assembly; its agenda follows.
func (h *Handler) APICreateAssembly(c echo.Context) error {
	var in apiAssemblyRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	a := governance.AssemblyInput{Title: in.Title, Description: in.Description, Form: in.Form, Place: in.Place,
		AccessDetails: in.AccessDetails, DiscussionForm: in.DiscussionForm, DemandID: in.DemandID}
	if err := apiMoments(map[string]*time.Time{"discussion_start": &a.DiscussionStart, "discussion_end": &a.DiscussionEnd,
		"voting_start": &a.VotingStart, "voting_end": &a.VotingEnd},
		map[string]string{"discussion_start": in.DiscussionStart, "discussion_end": in.DiscussionEnd,
			"voting_start": in.VotingStart, "voting_end": in.VotingEnd}); err != nil {
		return err
	}
	created, err := h.Governance.CreateAssembly(c.Request().Context(), actor(c), viewer(CurrentUser(c)), a)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/assemblies/"+created.ID)
	return h.assemblyAnswer(c, http.StatusCreated, created.ID)
}

// apiItemRequest is the body of POST /api/v1/assemblies/{id}/items.
type apiItemRequest struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Kind        string   `json:"kind"`
	ProposalID  string   `json:"proposal_id"`
	Secret      bool     `json:"secret"`
	MajorityNum int      `json:"majority_num"`
	MajorityDen int      `json:"majority_den"`
	Quorum      int      `json:"quorum"`
	Seats       int      `json:"seats"`
	Candidates  []string `json:"candidates"`
	Excluded    []string `json:"excluded_emails"`
	Discharge   string   `json:"discharge"`
	S67a        string   `json:"s67a"`
	Organ       string   `json:"organ"`
	Annual      string   `json:"annual"`
}

// APIAddAgendaItem answers POST /api/v1/assemblies/{id}/items (board).
// excluded_emails name the members barred from voting on the item (§43(6)
// GenG: a discharge of their own organ).
func (h *Handler) APIAddAgendaItem(c echo.Context) error {
	var in apiItemRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	it := governance.ItemInput{Title: in.Title, Description: in.Description, Kind: in.Kind, ProposalID: in.ProposalID,
		Secret: in.Secret, MajorityNum: in.MajorityNum, MajorityDen: in.MajorityDen, Quorum: in.Quorum, Seats: in.Seats,
		Candidates: in.Candidates, Discharge: in.Discharge, S67a: in.S67a, Organ: in.Organ, Annual: in.Annual}
	var unknown []string
	for _, e := range in.Excluded {
		u, err := h.Accounts.ByEmail(ctx, e)
		if models.IsNotFound(err) {
			unknown = append(unknown, e)
			continue
		}
		if err != nil {
			return err
		}
		it.ExcludedUserIDs = append(it.ExcludedUserIDs, u.ID)
	}
	if len(unknown) > 0 {
		return models.Invalid(map[string]string{"excluded_emails": "No account has the email " + strings.Join(unknown, ", ") + "."})
	}
	id := c.Param("id")
	if _, err := h.Governance.AddItem(ctx, actor(c), viewer(CurrentUser(c)), id, it); err != nil {
		return renameField(err, "majority", "majority_num")
	}
	return h.assemblyAnswer(c, http.StatusCreated, id)
}

// APISetChair answers POST /api/v1/assemblies/{id}/chair (board).
func (h *Handler) APISetChair(c echo.Context) error {
	var in struct {
		ChairEmail    string `json:"chair_email"`
		ChairLocation string `json:"chair_location"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	id := c.Param("id")
	if err := h.Governance.SetChair(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, in.ChairEmail, in.ChairLocation); err != nil {
		return err
	}
	return h.assemblyAnswer(c, http.StatusOK, id)
}

// APISendInvitations answers POST /api/v1/assemblies/{id}/invitations
// (board): every member is invited; refused without due notice (§46 GenG)
// or without what the invitation must say.
func (h *Handler) APISendInvitations(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.SendInvitations(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		return err
	}
	return h.assemblyAnswer(c, http.StatusOK, id)
}

// APIOpenVoting answers POST /api/v1/assemblies/{id}/open (board).
func (h *Handler) APIOpenVoting(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.OpenVoting(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		return err
	}
	return h.assemblyAnswer(c, http.StatusOK, id)
}

// APICloseVoting answers POST /api/v1/assemblies/{id}/close (board): the
// votes are counted and the results published (GET …/results).
func (h *Handler) APICloseVoting(c echo.Context) error {
	id := c.Param("id")
	if _, err := h.Governance.CloseVoting(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		return err
	}
	return h.assemblyAnswer(c, http.StatusOK, id)
}

// APICloseRound answers POST /api/v1/assemblies/{id}/items/{item}/close
// (board): one election's vote closes before the assembly's and is
// counted, so that its runoff can follow.
func (h *Handler) APICloseRound(c echo.Context) error {
	r, err := h.Governance.CloseItem(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), c.Param("item"))
	if err != nil {
		return err
	}
	out := struct {
		ItemID  string   `json:"item_id"`
		Elected []string `json:"elected"`
		Runoff  []string `json:"runoff"`
	}{r.ItemID, r.Elected, r.Runoff}
	if out.Elected == nil {
		out.Elected = []string{}
	}
	if out.Runoff == nil {
		out.Runoff = []string{}
	}
	return c.JSON(http.StatusOK, out)
}

// APIOpenRunoff answers POST /api/v1/assemblies/{id}/items/{item}/runoff
// (board): the runoff of a counted election goes on the agenda, voting
// until runoff_end.
func (h *Handler) APIOpenRunoff(c echo.Context) error {
	var in struct {
		RunoffEnd string `json:"runoff_end"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	var end time.Time
	if err := apiMoments(map[string]*time.Time{"runoff_end": &end}, map[string]string{"runoff_end": in.RunoffEnd}); err != nil {
		return err
	}
	if end.IsZero() {
		return models.Invalid(map[string]string{"runoff_end": "Enter when the runoff's vote ends."})
	}
	id := c.Param("id")
	if _, err := h.Governance.OpenRunoff(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, c.Param("item"), end); err != nil {
		return err
	}
	return h.assemblyAnswer(c, http.StatusCreated, id)
}

// APIAppointElected answers POST /api/v1/assemblies/{id}/items/{item}/appoint
// (board): those elected to an organ are appointed for the term given.
func (h *Handler) APIAppointElected(c echo.Context) error {
	var in struct {
		TermStart string `json:"term_start"`
		TermEnd   string `json:"term_end"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	var start, end time.Time
	if err := apiDays(map[string]*time.Time{"term_start": &start, "term_end": &end},
		map[string]string{"term_start": in.TermStart, "term_end": in.TermEnd}); err != nil {
		return err
	}
	if start.IsZero() || end.IsZero() {
		return models.Invalid(map[string]string{"term_end": "Enter the first and the last day of the term as YYYY-MM-DD."})
	}
	n, err := h.Governance.AppointElected(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), c.Param("item"), start, end)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"appointed": n})
}
