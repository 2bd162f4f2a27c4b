package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/membership"
)

// The JSON shapes below are the API contract (handlers/openapi.json); they
// are spelled out rather than derived from models, so that a change of the
// domain types cannot silently change the API.

// apiApplicationRequest is the body of POST /api/v1/membership/application.
type apiApplicationRequest struct {
	PersonKind     string `json:"person_kind"`
	LegalName      string `json:"legal_name"`
	Organisation   string `json:"organisation"`
	Representative string `json:"representative"`
	Street         string `json:"street"`
	PostalCode     string `json:"postal_code"`
	City           string `json:"city"`
	Country        string `json:"country"`
	Shares         int    `json:"shares"`
	SEPAMandate    bool   `json:"sepa_mandate"`
	IBAN           string `json:"iban"`
	AccountHolder  string `json:"account_holder"`
	AcceptBylaws   bool   `json:"accept_bylaws"` // also makes the declaration (§15a GenG)
	BylawsVersion  string `json:"bylaws_version"`
	// AcknowledgeNotice: required when the notice period exceeds a year.
	AcknowledgeNotice bool `json:"acknowledge_notice"`
}

// apiShares is the body of POST /membership/shares and /membership/notice.
// A pointer, so that a missing "shares" is told apart from 0, which on a
// notice means the whole membership.
type apiShares struct {
	Shares *int `json:"shares"`
	// Confirm: the member makes the declaration of further shares
	// (membership.SharesDeclaration) — POST /membership/shares only.
	Confirm bool `json:"confirm"`
}

type apiMembership struct {
	ID               string    `json:"id"`
	Status           string    `json:"status"`
	MemberNumber     *int64    `json:"member_number"`
	PersonKind       string    `json:"person_kind"`
	LegalName        string    `json:"legal_name"`
	Organisation     string    `json:"organisation"`
	Representative   string    `json:"representative"`
	Street           string    `json:"street"`
	PostalCode       string    `json:"postal_code"`
	City             string    `json:"city"`
	Country          string    `json:"country"`
	SharesApplied    int       `json:"shares_applied"`
	SEPAMandate      bool      `json:"sepa_mandate"`
	IBAN             string    `json:"iban"`
	AccountHolder    string    `json:"account_holder"`
	BylawsVersion    string    `json:"bylaws_version"`
	BylawsAcceptedAt time.Time `json:"bylaws_accepted_at"`
	AppliedAt        time.Time `json:"applied_at"`
	AdmittedOn       *string   `json:"admitted_on"`
	LeftOn           *string   `json:"left_on"`
	LeaveReason      string    `json:"leave_reason"`
}

type apiEntitlement struct {
	VCPUs     int `json:"vcpus"`
	MemoryMiB int `json:"memory_mib"`
	DiskGiB   int `json:"disk_gib"`
}

type apiNotice struct {
	ID              string     `json:"id"`
	Shares          int        `json:"shares"`
	WholeMembership bool       `json:"whole_membership"`
	Status          string     `json:"status"`
	GivenOn         string     `json:"given_on"`
	EffectiveOn     string     `json:"effective_on"`
	WithdrawnAt     *time.Time `json:"withdrawn_at"`
}

type apiEvent struct {
	Kind          string `json:"kind"`
	EffectiveDate string `json:"effective_date"`
	Detail        string `json:"detail"`
}

type apiOverview struct {
	Membership             apiMembership  `json:"membership"`
	SharesSubscribed       int            `json:"shares_subscribed"`
	SharesPaid             int            `json:"shares_paid"`
	SharesUnderNotice      int            `json:"shares_under_notice"`
	CapitalSubscribedCents int64          `json:"capital_subscribed_cents"`
	CapitalPaidCents       int64          `json:"capital_paid_cents"`
	Entitlement            apiEntitlement `json:"entitlement"`
	ApprovalsReceived      int            `json:"approvals_received"`
	ApprovalsNeeded        int            `json:"approvals_needed"`
	NoticeEffectiveOn      string         `json:"notice_effective_on"`
	Notices                []apiNotice    `json:"notices"`
	History                []apiEvent     `json:"history"`
	// SharesPending: further shares declared, awaiting the board (§15b GenG).
	SharesPending int `json:"shares_pending"`
}

// apiDate writes a calendar date as the domain stores it, midnight UTC.
func apiDate(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func apiDatePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := apiDate(*t)
	return &s
}

func toAPIMembership(m *membership.Membership) apiMembership {
	return apiMembership{
		ID: m.ID, Status: string(m.Status), MemberNumber: m.MemberNumber, PersonKind: m.PersonKind,
		LegalName: m.LegalName, Organisation: m.Organisation, Representative: m.Representative,
		Street: m.Street, PostalCode: m.PostalCode, City: m.City, Country: m.Country,
		SharesApplied: m.SharesApplied, SEPAMandate: m.SEPAMandate, IBAN: m.IBAN, AccountHolder: m.AccountHolder,
		BylawsVersion: m.BylawsVersion, BylawsAcceptedAt: m.BylawsAcceptedAt, AppliedAt: m.AppliedAt,
		AdmittedOn: apiDatePtr(m.AdmittedOn), LeftOn: apiDatePtr(m.LeftOn), LeaveReason: m.LeaveReason,
	}
}

func toAPINotice(n *membership.Notice) apiNotice {
	return apiNotice{ID: n.ID, Shares: n.Shares, WholeMembership: n.Whole(), Status: n.Status(),
		GivenOn: apiDate(n.GivenOn), EffectiveOn: apiDate(n.EffectiveOn), WithdrawnAt: n.WithdrawnAt}
}

func toAPIOverview(o *membership.MembershipOverview) apiOverview {
	e := o.Entitlement
	out := apiOverview{
		Membership: toAPIMembership(&o.Membership), SharesSubscribed: o.SharesSubscribed, SharesPaid: o.SharesPaid,
		SharesUnderNotice: o.SharesUnderNotice, CapitalSubscribedCents: o.CapitalSubscribedCents,
		CapitalPaidCents: o.CapitalPaidCents, Entitlement: apiEntitlement{VCPUs: e.VCPUs, MemoryMiB: e.MemoryMiB, DiskGiB: e.DiskGiB},
		ApprovalsReceived: len(o.Approvals), ApprovalsNeeded: o.ApprovalsNeeded,
		NoticeEffectiveOn: apiDate(o.NoticePreview), SharesPending: o.PendingShares(),
		Notices: make([]apiNotice, 0, len(o.Notices)), History: make([]apiEvent, 0, len(o.History)),
	}
	for i := range o.Notices {
		out.Notices = append(out.Notices, toAPINotice(&o.Notices[i]))
	}
	for _, ev := range o.History {
		out.History = append(out.History, apiEvent{Kind: ev.Kind, EffectiveDate: apiDate(ev.EffectiveDate), Detail: ev.Detail})
	}
	return out
}

// APIMembership answers GET /api/v1/membership: the caller's own overview,
// 404 before they applied.
func (h *Handler) APIMembership(c echo.Context) error {
	o, err := h.Members.Overview(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIOverview(o))
}

// APIApplyForMembership answers POST /api/v1/membership/application.
func (h *Handler) APIApplyForMembership(c echo.Context) error {
	var in apiApplicationRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	m, err := h.Members.Apply(c.Request().Context(), actor(c), CurrentUser(c).ID, membership.ApplicationInput{
		PersonKind: in.PersonKind, LegalName: in.LegalName, Organisation: in.Organisation, Representative: in.Representative,
		Street: in.Street, PostalCode: in.PostalCode, City: in.City, Country: in.Country, Shares: in.Shares,
		SEPAMandate: in.SEPAMandate, IBAN: in.IBAN, AccountHolder: in.AccountHolder,
		AcceptBylaws: in.AcceptBylaws, BylawsVersion: in.BylawsVersion, AcknowledgeNoticePeriod: in.AcknowledgeNotice,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/membership")
	return c.JSON(http.StatusCreated, toAPIMembership(m))
}

// APISubscribeShares answers POST /api/v1/membership/shares with the
// updated overview.
func (h *Handler) APISubscribeShares(c echo.Context) error {
	var in apiShares
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.Shares == nil {
		return models.Invalid(map[string]string{"shares": "Give the number of shares to subscribe."})
	}
	ctx, userID := c.Request().Context(), CurrentUser(c).ID
	if _, err := h.Members.SubscribeShares(ctx, actor(c), userID, *in.Shares, in.Confirm); err != nil {
		return err
	}
	o, err := h.Members.Overview(ctx, userID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIOverview(o))
}

// APIGiveNotice answers POST /api/v1/membership/notice.
func (h *Handler) APIGiveNotice(c echo.Context) error {
	var in apiShares
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	// An empty body must not end a membership: 0 has to be said explicitly.
	if in.Shares == nil {
		return models.Invalid(map[string]string{"shares": "Give the number of shares, or 0 for the whole membership."})
	}
	n, err := h.Members.GiveNotice(c.Request().Context(), actor(c), CurrentUser(c).ID, *in.Shares)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAPINotice(n))
}
