package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/governance"
	"allmende/views"
)

// assemblyFields are the inputs of the board's form for a new assembly.
var assemblyFields = []string{"title", "description", "form", "discussion_start", "discussion_end", "voting_start", "voting_end",
	"place", "access_details", "discussion_form", "demand_id"}

// itemFields are the single-valued inputs of the agenda item form.
var itemFields = []string{"title", "description", "kind", "proposal_id", "secret",
	"majority_num", "majority_den", "quorum", "seats", "candidates", "excluded", "discharge", "s67a", "organ", "annual"}

// ShowNewAssembly is the board's form to convene a general assembly.
func (h *Handler) ShowNewAssembly(c echo.Context) error {
	return h.renderNewAssembly(c, http.StatusOK, views.Form{Values: map[string]string{"form": governance.FormVirtual, "demand_id": c.QueryParam("demand")}})
}

func (h *Handler) renderNewAssembly(c echo.Context, status int, f views.Form) error {
	loc, err := h.Governance.Location(c.Request().Context())
	if err != nil {
		return err
	}
	p, err := h.page(c, "New general assembly", "new-assembly")
	if err != nil {
		return err
	}
	return render(c, status, views.NewAssemblyPage(p, f, loc.String()))
}

// CreateAssembly convenes an assembly; the agenda follows on its page.
func (h *Handler) CreateAssembly(c echo.Context) error {
	f := formOf(c, assemblyFields...)
	loc, err := h.Governance.Location(c.Request().Context())
	if err != nil {
		return err
	}
	in := governance.AssemblyInput{Title: f.Value("title"), Description: f.Value("description"), Form: f.Value("form"),
		Place: f.Value("place"), AccessDetails: f.Value("access_details"), DiscussionForm: f.Value("discussion_form"), DemandID: f.Value("demand_id")}
	for name, dst := range map[string]*time.Time{"discussion_start": &in.DiscussionStart, "discussion_end": &in.DiscussionEnd,
		"voting_start": &in.VotingStart, "voting_end": &in.VotingEnd} {
		t, ok := parseMomentIn(f.Value(name), loc)
		if !ok {
			fieldErr(&f, name, i18n.T(c.Request().Context(), "Enter a date and time as YYYY-MM-DD HH:MM (%s).", loc.String()))
		}
		*dst = t
	}
	if len(f.Errors) > 0 {
		return h.renderNewAssembly(c, http.StatusUnprocessableEntity, f)
	}
	a, err := h.Governance.CreateAssembly(c.Request().Context(), actor(c), viewer(CurrentUser(c)), in)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderNewAssembly(c, status, f)
	}
	return h.flashTo(c, "success", "The assembly has been created. Now set its agenda.", "/board/assemblies/"+a.ID)
}

// ShowBoardAssembly is the board's page of an assembly: the agenda and its
// form, invitations, opening and closing the vote, live turnout.
func (h *Handler) ShowBoardAssembly(c echo.Context) error {
	return h.renderBoardAssembly(c, http.StatusOK, views.BoardAssemblyView{Item: views.Form{Values: map[string]string{"kind": governance.ItemOrdinary}}})
}

func (h *Handler) renderBoardAssembly(c echo.Context, status int, view views.BoardAssemblyView) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	d, err := h.Governance.Assembly(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	proposals, err := h.Governance.Proposals(ctx, v)
	if err != nil {
		return err
	}
	view.D = d
	for _, pr := range proposals {
		if pr.Status == governance.ProposalSubmitted {
			view.Proposals = append(view.Proposals, pr)
		}
	}
	if d.Status == governance.AssemblyClosed {
		if view.Results, err = h.Governance.Results(ctx, v, d.ID); err != nil {
			return err
		}
	}
	p, err := h.page(c, d.Title, "assemblies")
	if err != nil {
		return err
	}
	return render(c, status, views.BoardAssemblyPage(p, view))
}

// AssemblyTurnout is the htmx partial the board's page polls while voting
// is open.
func (h *Handler) AssemblyTurnout(c echo.Context) error {
	d, err := h.Governance.Assembly(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AssemblyTurnout(d))
}

// AddAgendaItem adds an item to the agenda of a planned assembly.
func (h *Handler) AddAgendaItem(c echo.Context) error {
	f := formOf(c, itemFields...)
	in := governance.ItemInput{Title: f.Value("title"), Description: f.Value("description"), Kind: f.Value("kind"),
		ProposalID: f.Value("proposal_id"), Secret: f.Value("secret") != "", Candidates: lines(f.Value("candidates")),
		Discharge: f.Value("discharge"), S67a: f.Value("s67a"), Organ: f.Value("organ"), Annual: f.Value("annual")}
	in.MajorityNum = optNumber(&f, "majority_num", "Enter a whole number, or leave empty for the majority the kind of item needs.")
	in.MajorityDen = optNumber(&f, "majority_den", "Enter a whole number, or leave empty for the majority the kind of item needs.")
	in.Quorum = optNumber(&f, "quorum", "Enter a whole number of votes, or leave empty for no quorum.")
	in.Seats = optNumber(&f, "seats", "Enter the number of seats to fill.")
	ctx := c.Request().Context()
	if emails := lines(f.Value("excluded")); len(emails) > 0 {
		var unknown []string
		for _, e := range emails {
			u, err := h.Accounts.ByEmail(ctx, e)
			if err != nil {
				if models.IsNotFound(err) {
					unknown = append(unknown, e)
					continue
				}
				return err
			}
			in.ExcludedUserIDs = append(in.ExcludedUserIDs, u.ID)
		}
		if len(unknown) > 0 {
			fieldErr(&f, "excluded", "No account has the email "+strings.Join(unknown, ", ")+".")
		}
	}
	if len(f.Errors) > 0 {
		return h.renderBoardAssembly(c, http.StatusUnprocessableEntity, views.BoardAssemblyView{Item: f})
	}
	id := c.Param("id")
	it, err := h.Governance.AddItem(ctx, actor(c), viewer(CurrentUser(c)), id, in)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		f.Errors = moveField(f.Errors, "majority", "majority_num")
		return h.renderBoardAssembly(c, status, views.BoardAssemblyView{Item: f})
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Item %s added to the agenda.", it.Title), "/board/assemblies/"+id)
}

// SendInvitations invites every member; the domain refuses an invitation
// without due notice (§46 GenG) or without what it must say.
func (h *Handler) SendInvitations(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.SendInvitations(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		return h.boardAssemblyFailure(c, err)
	}
	return h.flashTo(c, "success", "The invitations are being sent to every member.", "/board/assemblies/"+id)
}

// OpenVoting opens the ballot on every item of the agenda.
func (h *Handler) OpenVoting(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.OpenVoting(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		return h.boardAssemblyFailure(c, err)
	}
	return h.flashTo(c, "success", "Voting is open.", "/board/assemblies/"+id)
}

// CloseVoting closes the ballot, counts the votes and publishes the results.
func (h *Handler) CloseVoting(c echo.Context) error {
	id := c.Param("id")
	res, err := h.Governance.CloseVoting(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id)
	if err != nil {
		return h.boardAssemblyFailure(c, err)
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Voting is closed and the results are published (SHA-256 %s).", res.ResultHash), "/board/assemblies/"+id)
}

// boardAssemblyFailure shows a refused board action on the assembly page,
// with the status the domain gave (e.g. 409 when voting is already open).
func (h *Handler) boardAssemblyFailure(c echo.Context, err error) error {
	status, ok := formFailure(c.Request().Context(), err, &views.Form{})
	if !ok || status == http.StatusNotFound {
		return err
	}
	return h.renderBoardAssembly(c, status, views.BoardAssemblyView{Error: errText(c.Request().Context(), err),
		Item: views.Form{Values: map[string]string{"kind": governance.ItemOrdinary}}})
}

// AppointElected records the result of a closed election to an organ as
// appointments for the term entered.
func (h *Handler) AppointElected(c echo.Context) error {
	id, item := c.Param("id"), c.Param("item")
	start, okStart := parseDay(c.FormValue("term_start"))
	end, okEnd := parseDay(c.FormValue("term_end"))
	if !okStart || !okEnd {
		return h.renderBoardAssembly(c, http.StatusUnprocessableEntity, views.BoardAssemblyView{Error: "Enter the first and the last day of the term as YYYY-MM-DD.",
			Item: views.Form{Values: map[string]string{"kind": governance.ItemOrdinary}}})
	}
	n, err := h.Governance.AppointElected(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, item, start, end)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &views.Form{})
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderBoardAssembly(c, status, views.BoardAssemblyView{Error: errText(c.Request().Context(), err),
			Item: views.Form{Values: map[string]string{"kind": governance.ItemOrdinary}}})
	}
	return h.flashTo(c, "success", i18n.N(c.Request().Context(), "%d elected member appointed.", "%d elected members appointed.", n), "/board/assemblies/"+id+"#item-"+item)
}
