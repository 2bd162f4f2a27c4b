package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/membership"
)

// The board's member administration in the API: one member's record,
// payments, declarations of further shares, notice withdrawals, transfers,
// refunds and reversals, exclusion proceedings and the organs. Each is the
// twin of a board page's handler and calls the same domain method; the
// routes check the role, the domain the rest.

// apiDays reads calendar dates (YYYY-MM-DD) of a request body; a blank
// one is the zero time, which the domain refuses where a date is needed.
// A date that is not one is a field error, as the domain would give.
func apiDays(dates map[string]*time.Time, raw map[string]string) error {
	fields := map[string]string{}
	for name, dst := range dates {
		s := raw[name]
		if s == "" {
			continue
		}
		d, ok := parseDay(s)
		if !ok {
			fields[name] = "Enter a date as YYYY-MM-DD."
			continue
		}
		*dst = d
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return nil
}

// APIMember answers GET /api/v1/members/{id} (board): one member's record
// as the board's member page shows it, with capital paid and owed.
func (h *Handler) APIMember(c echo.Context) error {
	o, err := h.Members.Member(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	out := apiBoardMember{apiOverview: toAPIOverview(o), ShareLedger: o.ShareLedger, CapitalLedger: o.CapitalLedger, Refunds: o.Refunds, Exclusion: o.Exclusion}
	if out.ShareLedger == nil {
		out.ShareLedger = []membership.ShareTransaction{}
	}
	if out.CapitalLedger == nil {
		out.CapitalLedger = []membership.CapitalTransaction{}
	}
	if out.Refunds == nil {
		out.Refunds = []membership.Refund{}
	}
	return c.JSON(http.StatusOK, out)
}

// apiBoardMember is what the board's member page shows: the member's own
// overview, the ledgers whose rows the board reverses, the refunds it
// pays and the latest exclusion proceedings.
type apiBoardMember struct {
	apiOverview
	ShareLedger   []membership.ShareTransaction   `json:"share_ledger"`
	CapitalLedger []membership.CapitalTransaction `json:"capital_ledger"`
	Refunds       []membership.Refund             `json:"refunds"`
	Exclusion     *membership.Exclusion           `json:"exclusion"`
}

type apiPaymentRequest struct {
	AmountCents int64  `json:"amount_cents"`
	Date        string `json:"date"`
	Note        string `json:"note"`
	// DryRun checks the payment and says what the member owes, booking
	// nothing: the page's "show it back before it is booked".
	DryRun bool `json:"dry_run"`
}

type apiPayment struct {
	MemberNumber int64  `json:"member_number"`
	Name         string `json:"name"`
	AmountCents  int64  `json:"amount_cents"`
	Date         string `json:"date"`
	OwedCents    int64  `json:"owed_cents"`   // before this payment
	ExcessCents  int64  `json:"excess_cents"` // how far it exceeds what is owed
	Booked       bool   `json:"booked"`
}

// APIRecordPayment answers POST /api/v1/members/{id}/payments (board): a
// payment on the member's shares, in cents. With dry_run it is checked and
// compared with what is owed (200), without it booked (201).
func (h *Handler) APIRecordPayment(c echo.Context) error {
	var in apiPaymentRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	var date time.Time
	if err := apiDays(map[string]*time.Time{"date": &date}, map[string]string{"date": in.Date}); err != nil {
		return err
	}
	ctx, id := c.Request().Context(), c.Param("id")
	check, err := h.Members.CheckPayment(ctx, id, in.AmountCents, date, in.Note)
	if err != nil {
		return renameField(err, "amount", "amount_cents")
	}
	out := apiPayment{MemberNumber: check.MemberNumber, Name: check.Name, AmountCents: in.AmountCents, Date: apiDate(date),
		OwedCents: check.OwedCents, ExcessCents: check.ExcessCents}
	if in.DryRun {
		return c.JSON(http.StatusOK, out)
	}
	if err := h.Members.RecordPayment(ctx, actor(c), id, in.AmountCents, date, in.Note); err != nil {
		return renameField(err, "amount", "amount_cents")
	}
	out.Booked = true
	return c.JSON(http.StatusCreated, out)
}

// apiReason is the body of the board's steps that need a reason.
type apiReason struct {
	Reason string `json:"reason"`
}

// APIReverseShareTransaction answers POST /api/v1/ledger/shares/{id}/reverse.
func (h *Handler) APIReverseShareTransaction(c echo.Context) error {
	return h.apiReverse(c, h.Members.ReverseShareTransaction)
}

// APIReverseCapitalTransaction answers POST /api/v1/ledger/capital/{id}/reverse.
func (h *Handler) APIReverseCapitalTransaction(c echo.Context) error {
	return h.apiReverse(c, h.Members.ReverseCapitalTransaction)
}

func (h *Handler) apiReverse(c echo.Context, fn func(ctx context.Context, a models.Actor, id, reason string) error) error {
	var in apiReason
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := fn(c.Request().Context(), actor(c), c.Param("id"), in.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APIPayRefund answers POST /api/v1/refunds/{id}/paid (board) with the day
// the refund was paid.
func (h *Handler) APIPayRefund(c echo.Context) error {
	var in struct {
		Date string `json:"date"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	var date time.Time
	if err := apiDays(map[string]*time.Time{"date": &date}, map[string]string{"date": in.Date}); err != nil {
		return err
	}
	if date.IsZero() {
		return models.Invalid(map[string]string{"date": "Enter the date the refund was paid, as YYYY-MM-DD."})
	}
	if err := h.Members.PayRefund(c.Request().Context(), actor(c), c.Param("id"), date); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type apiSubscription struct {
	ID           string    `json:"id"`
	MembershipID string    `json:"membership_id"`
	MemberNumber int64     `json:"member_number"`
	Name         string    `json:"name"`
	Shares       int       `json:"shares"`
	Held         int       `json:"held"`
	OwedCents    int64     `json:"owed_cents"`
	Declaration  string    `json:"declaration"`
	DeclaredAt   time.Time `json:"declared_at"`
}

type apiWithdrawal struct {
	NoticeID     string    `json:"notice_id"`
	MembershipID string    `json:"membership_id"`
	MemberNumber int64     `json:"member_number"`
	Name         string    `json:"name"`
	Shares       int       `json:"shares"`
	EffectiveOn  string    `json:"effective_on"`
	RequestedAt  time.Time `json:"requested_at"`
}

type apiTransfer struct {
	ID               string    `json:"id"`
	FromMembershipID string    `json:"from_membership_id"`
	ToMembershipID   string    `json:"to_membership_id"`
	Shares           int       `json:"shares"`
	AmountCents      int64     `json:"amount_cents"`
	Agreement        string    `json:"agreement"`
	Status           string    `json:"status"`
	AgreedAt         time.Time `json:"agreed_at"`
}

// APIBoardShares answers GET /api/v1/board/shares (board): what the shares
// page lists for a decision — declarations of further shares, requests to
// withdraw a notice, and transfers both members agreed to.
func (h *Handler) APIBoardShares(c echo.Context) error {
	ctx := c.Request().Context()
	subs, err := h.Members.PendingSubscriptions(ctx)
	if err != nil {
		return err
	}
	wds, err := h.Members.PendingWithdrawals(ctx)
	if err != nil {
		return err
	}
	ts, err := h.Members.AgreedTransfers(ctx)
	if err != nil {
		return err
	}
	out := struct {
		Subscriptions []apiSubscription `json:"subscriptions"`
		Withdrawals   []apiWithdrawal   `json:"withdrawals"`
		Transfers     []apiTransfer     `json:"transfers"`
	}{[]apiSubscription{}, []apiWithdrawal{}, []apiTransfer{}}
	for _, s := range subs {
		out.Subscriptions = append(out.Subscriptions, apiSubscription{ID: s.ID, MembershipID: s.MembershipID, MemberNumber: s.MemberNumber,
			Name: s.Name, Shares: s.Shares, Held: s.Held, OwedCents: s.OwedCents, Declaration: s.Declaration, DeclaredAt: s.DeclaredAt})
	}
	for _, w := range wds {
		var at time.Time
		if w.WithdrawalRequestedAt != nil {
			at = *w.WithdrawalRequestedAt
		}
		out.Withdrawals = append(out.Withdrawals, apiWithdrawal{NoticeID: w.ID, MembershipID: w.MembershipID, MemberNumber: w.MemberNumber,
			Name: w.Name, Shares: w.Shares, EffectiveOn: apiDate(w.EffectiveOn), RequestedAt: at})
	}
	for _, t := range ts {
		var at time.Time
		if t.ReceiverAgreedAt != nil {
			at = *t.ReceiverAgreedAt
		}
		out.Transfers = append(out.Transfers, apiTransfer{ID: t.ID, FromMembershipID: t.FromMembershipID, ToMembershipID: t.ToMembershipID,
			Shares: t.Shares, AmountCents: t.AmountCents, Agreement: t.Agreement, Status: t.Status, AgreedAt: at})
	}
	return c.JSON(http.StatusOK, out)
}

// APIAdmitShares answers POST /api/v1/share-subscriptions/{id}/admit.
func (h *Handler) APIAdmitShares(c echo.Context) error {
	if err := h.Members.AdmitShares(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APIRejectShares answers POST /api/v1/share-subscriptions/{id}/reject
// with the reason the member is told.
func (h *Handler) APIRejectShares(c echo.Context) error {
	var in apiReason
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := h.Members.RejectShares(c.Request().Context(), actor(c), c.Param("id"), in.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APIDecideNoticeWithdrawal answers POST /api/v1/notices/{id}/withdrawal:
// the board accepts or refuses a member's request to withdraw a notice.
func (h *Handler) APIDecideNoticeWithdrawal(c echo.Context) error {
	var in struct {
		Accept *bool `json:"accept"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.Accept == nil {
		return models.Invalid(map[string]string{"accept": "Say whether the withdrawal is accepted (true) or refused (false)."})
	}
	if err := h.Members.DecideNoticeWithdrawal(c.Request().Context(), actor(c), c.Param("id"), *in.Accept); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APIExecuteTransfer answers POST /api/v1/transfers/{id}/execute (§76 GenG).
func (h *Handler) APIExecuteTransfer(c echo.Context) error {
	if err := h.Members.ExecuteTransfer(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APIRefuseTransfer answers POST /api/v1/transfers/{id}/refuse.
func (h *Handler) APIRefuseTransfer(c echo.Context) error {
	if err := h.Members.RefuseTransfer(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APIOpenExclusion answers POST /api/v1/members/{id}/exclusion (board):
// the proceedings open and the member is invited to be heard.
func (h *Handler) APIOpenExclusion(c echo.Context) error {
	var in struct {
		Reason string `json:"reason"`
		Facts  string `json:"facts"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	x, err := h.Members.OpenExclusion(c.Request().Context(), actor(c), c.Param("id"), membership.ExclusionInput{Reason: in.Reason, Facts: in.Facts})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/exclusions/"+x.ID)
	return c.JSON(http.StatusCreated, x)
}

// APIExclusion answers GET /api/v1/exclusions/{id} (board and supervisory
// board): the proceedings, where they stand, and whether the hearing is over.
func (h *Handler) APIExclusion(c echo.Context) error {
	d, err := h.Members.Exclusion(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"exclusion": d.Exclusion, "stage": d.Exclusion.Stage(), "heard": d.Heard,
		"membership": toAPIMembership(&d.Membership)})
}

// APIExclusionStatement answers POST /api/v1/exclusions/{id}/statement: a
// hearing held outside the portal, recorded by the board.
func (h *Handler) APIExclusionStatement(c echo.Context) error {
	var in struct {
		Statement string `json:"statement"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := h.Members.RecordStatement(c.Request().Context(), actor(c), c.Param("id"), in.Statement); err != nil {
		return err
	}
	return h.APIExclusion(c)
}

// APIDecideExclusion answers POST /api/v1/exclusions/{id}/decision: the
// decision of the body the bylaws name, recorded by one of its members.
func (h *Handler) APIDecideExclusion(c echo.Context) error {
	var in struct {
		Exclude   *bool  `json:"exclude"`
		DecidedOn string `json:"decided_on"`
		Reference string `json:"reference"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.Exclude == nil {
		return models.Invalid(map[string]string{"exclude": "Say whether the member is excluded (true) or not (false)."})
	}
	var day time.Time
	if err := apiDays(map[string]*time.Time{"decided_on": &day}, map[string]string{"decided_on": in.DecidedOn}); err != nil {
		return err
	}
	err := h.Members.DecideExclusion(c.Request().Context(), actor(c), c.Param("id"),
		membership.DecisionInput{Exclude: *in.Exclude, DecidedOn: day, Reference: in.Reference})
	if err != nil {
		return err
	}
	return h.APIExclusion(c)
}

// APIExclusionLetter answers POST /api/v1/exclusions/{id}/letter: the day
// the registered letter went out; the membership ends at the end of the
// business year.
func (h *Handler) APIExclusionLetter(c echo.Context) error {
	var in struct {
		SentOn string `json:"sent_on"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	var day time.Time
	if err := apiDays(map[string]*time.Time{"sent_on": &day}, map[string]string{"sent_on": in.SentOn}); err != nil {
		return err
	}
	if err := h.Members.RecordExclusionLetter(c.Request().Context(), actor(c), c.Param("id"), day); err != nil {
		return err
	}
	return h.APIExclusion(c)
}

// APIOrgans answers GET /api/v1/organs (board and supervisory board): the
// seats held today and the other appointments (future, ended, expired).
func (h *Handler) APIOrgans(c echo.Context) error {
	ov, err := h.Members.Organs().Overview(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	seats := []membership.Appointment{}
	for _, o := range membership.AllOrgans {
		seats = append(seats, ov.Seats[o]...)
	}
	other := ov.Other
	if other == nil {
		other = []membership.Appointment{}
	}
	return c.JSON(http.StatusOK, map[string]any{"seats": seats, "other": other, "members": ov.Members,
		"supervisory_board": ov.SupervisoryBoard, "supervisory_required": ov.SupervisoryRequired})
}

// APIAppoint answers POST /api/v1/organs/appointments: an election held
// outside the portal, or a decision of the supervisory board (by).
func (h *Handler) APIAppoint(c echo.Context) error {
	var in struct {
		Organ     string `json:"organ"`
		UserID    string `json:"user_id"`
		By        string `json:"by"`
		DecidedOn string `json:"decided_on"`
		TermStart string `json:"term_start"`
		TermEnd   string `json:"term_end"`
		Reference string `json:"reference"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	organ, _ := membership.ParseOrgan(in.Organ)
	a := membership.AppointInput{Organ: organ, UserID: in.UserID, Reference: in.Reference, Source: membership.SourceElection}
	if err := apiDays(map[string]*time.Time{"decided_on": &a.DecidedOn, "term_start": &a.TermStart, "term_end": &a.TermEnd},
		map[string]string{"decided_on": in.DecidedOn, "term_start": in.TermStart, "term_end": in.TermEnd}); err != nil {
		return err
	}
	if in.By == membership.BodySupervisoryBoard {
		a.Source, a.Body = membership.SourceDecision, membership.BodySupervisoryBoard
	}
	ap, err := h.Members.Organs().Appoint(c.Request().Context(), actor(c), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, ap)
}

// APIEndAppointment answers POST /api/v1/organs/appointments/{id}/end: a
// resignation, recall or suspension, with the last day in office.
func (h *Handler) APIEndAppointment(c echo.Context) error {
	var in struct {
		LastDay string `json:"last_day"`
		Reason  string `json:"reason"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	var day time.Time
	if err := apiDays(map[string]*time.Time{"last_day": &day}, map[string]string{"last_day": in.LastDay}); err != nil {
		return err
	}
	if day.IsZero() {
		return models.Invalid(map[string]string{"last_day": "Enter the last day in office, as YYYY-MM-DD."})
	}
	if err := h.Members.Organs().EndAppointment(c.Request().Context(), actor(c), c.Param("id"), day, in.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
