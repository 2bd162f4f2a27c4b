package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/election"
	"allmende/i18n"
	"allmende/models"
	"allmende/models/governance"
	"allmende/views"
)

// Verifiable secret ballots (docs/ballots.md): the election page with the
// trustees' key ceremony, encrypted ballots from the voter's browser, the
// trustees' partial decryptions and the published election record. The
// JSON endpoints under /assemblies serve static/ballot_ui.js (session and
// CSRF header); the /api/v1 ones the same for tokens.

// jsonResult answers a browser's JSON call: the value, or a domain refusal
// in the API's error shape (the page error handler would answer HTML).
func jsonResult(c echo.Context, status int, v any, err error) error {
	if err == nil {
		return c.JSON(status, v)
	}
	de, ok := models.AsError(err)
	if !ok {
		return err
	}
	return c.JSON(de.Code, APIError{Error: APIErrorBody{Status: de.Code, Code: codeOf(de.Code), Message: errText(c.Request().Context(), err), Fields: de.Fields}})
}

// ShowElection is an assembly's election page: trustees and their progress,
// the board's form to name them, a trustee's steps, the record once closed.
func (h *Handler) ShowElection(c echo.Context) error {
	return h.renderElection(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderElection(c echo.Context, status int, f views.Form) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	view, err := h.Governance.Election(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.page(c, i18n.T(ctx, "Election: %s", view.AssemblyTitle), "assemblies")
	if err != nil {
		return err
	}
	return render(c, status, views.ElectionPage(p, view, f))
}

// SetUpElection is the board's form naming the trustees.
func (h *Handler) SetUpElection(c echo.Context) error {
	f := formOf(c, "trustees", "threshold", "revote")
	id := c.Param("id")
	k, err := strconv.Atoi(strings.TrimSpace(f.Value("threshold")))
	if err != nil {
		k = 0
	}
	in := governance.ElectionInput{TrusteeEmails: lines(f.Value("trustees")), Threshold: k, Revote: f.Value("revote") != ""}
	if err := h.Governance.SetUpElection(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, in); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderElection(c, status, f)
	}
	return h.flashTo(c, "success", "The trustees are named; they now make the election key on this page.", "/assemblies/"+id+"/election")
}

// EndVoting ends the vote of an assembly with an election key.
func (h *Handler) EndVoting(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.EndVoting(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		f := views.Form{}
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderElection(c, status, f)
	}
	return h.flashTo(c, "success", "Voting has ended; the trustees now decrypt the tallies.", "/assemblies/"+id+"/election")
}

// ElectionState is the election as JSON, for the trustee's and the voter's
// browser.
func (h *Handler) ElectionState(c echo.Context) error {
	view, err := h.Governance.Election(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	return jsonResult(c, http.StatusOK, view, err)
}

// RegisterTrustee: a trustee's browser publishes its commitments.
func (h *Handler) RegisterTrustee(c echo.Context) error {
	var in governance.TrusteeRegistration
	if err := bindJSON(c, &in); err != nil {
		return jsonResult(c, 0, nil, err)
	}
	err := h.Governance.RegisterTrustee(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), in)
	return jsonResult(c, http.StatusOK, map[string]string{"status": "registered"}, err)
}

// DealShares: a trustee's browser sends the encrypted shares.
func (h *Handler) DealShares(c echo.Context) error {
	var in struct {
		Shares []election.EncryptedShare `json:"shares"`
	}
	if err := bindJSON(c, &in); err != nil {
		return jsonResult(c, 0, nil, err)
	}
	err := h.Governance.DealShares(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), in.Shares)
	return jsonResult(c, http.StatusOK, map[string]string{"status": "dealt"}, err)
}

// ConfirmTrustee: a trustee's browser checked its shares.
func (h *Handler) ConfirmTrustee(c echo.Context) error {
	var in struct {
		VerificationKey string `json:"verification_key"`
	}
	if err := bindJSON(c, &in); err != nil {
		return jsonResult(c, 0, nil, err)
	}
	err := h.Governance.ConfirmTrustee(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), in.VerificationKey)
	return jsonResult(c, http.StatusOK, map[string]string{"status": "confirmed"}, err)
}

// SubmitDecryption: a trustee's browser decrypted an item's tally.
func (h *Handler) SubmitDecryption(c echo.Context) error {
	var in struct {
		ItemID     string              `json:"item_id"`
		Decryption election.Decryption `json:"decryption"`
	}
	if err := bindJSON(c, &in); err != nil {
		return jsonResult(c, 0, nil, err)
	}
	err := h.Governance.SubmitDecryption(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), in.ItemID, in.Decryption)
	return jsonResult(c, http.StatusOK, map[string]string{"status": "decrypted"}, err)
}

type encryptedBallotBody struct {
	OnBehalfOf string          `json:"on_behalf_of"`
	Ballot     election.Ballot `json:"ballot"`
}

// CastEncryptedBallot takes a ballot encrypted in the voter's browser. The
// body holds ciphertexts and proofs only; nothing of it is logged.
func (h *Handler) CastEncryptedBallot(c echo.Context) error {
	var in encryptedBallotBody
	if err := bindJSON(c, &in); err != nil {
		return jsonResult(c, 0, nil, err)
	}
	r, err := h.Governance.CastEncrypted(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), c.Param("item"), in.OnBehalfOf, in.Ballot)
	return jsonResult(c, http.StatusCreated, r, err)
}

// ElectionRecord downloads the published election record.
func (h *Handler) ElectionRecord(c echo.Context) error {
	rec, err := h.Governance.ElectionRecord(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(c.Request().URL.Path, "/api/") {
		c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="election-%s.json"`, c.Param("id")))
	}
	return c.JSON(http.StatusOK, rec)
}

// APIElection answers GET /api/v1/assemblies/{id}/election.
func (h *Handler) APIElection(c echo.Context) error {
	view, err := h.Governance.Election(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}

// APICastEncryptedBallot answers POST /api/v1/assemblies/{id}/items/{item}/encrypted-ballot.
func (h *Handler) APICastEncryptedBallot(c echo.Context) error {
	var in encryptedBallotBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	r, err := h.Governance.CastEncrypted(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), c.Param("item"), in.OnBehalfOf, in.Ballot)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}
