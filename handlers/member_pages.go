package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/membership"
	"allmende/views"
)

// joinFields are the inputs of the membership application form.
var joinFields = []string{"person_kind", "legal_name", "organisation", "representative",
	"street", "postal_code", "city", "country", "shares",
	"sepa_mandate", "iban", "account_holder", "accept_bylaws", "bylaws_version", "acknowledge_notice"}

// ShowMembership shows the member's page, an applicant's status, or — for
// an account that never applied — the form to join.
func (h *Handler) ShowMembership(c echo.Context) error {
	o, err := h.Members.Overview(c.Request().Context(), CurrentUser(c).ID)
	if models.IsNotFound(err) {
		return h.showJoin(c, false)
	}
	if err != nil {
		return err
	}
	return h.renderMembership(c, http.StatusOK, o, views.Form{}, views.Form{})
}

// ShowJoin is the application form on its own address, for former and
// excluded members who apply again. Anyone else finds their way from
// /membership; the domain refuses a second open application anyway.
func (h *Handler) ShowJoin(c echo.Context) error {
	o, err := h.Members.Overview(c.Request().Context(), CurrentUser(c).ID)
	if models.IsNotFound(err) {
		return h.showJoin(c, false)
	}
	if err != nil {
		return err
	}
	if s := o.Membership.Status; s == membership.StatusFormer || s == membership.StatusExcluded {
		return h.showJoin(c, true)
	}
	return redirect(c, "/membership")
}

// showJoin renders a fresh application form suggesting the common case: a
// natural person in Germany subscribing the minimum, under the account's name.
func (h *Handler) showJoin(c echo.Context, again bool) error {
	rules, err := h.Rules.Current(c.Request().Context())
	if err != nil {
		return err
	}
	f := views.Form{Values: map[string]string{
		"person_kind": membership.PersonNatural, "legal_name": CurrentUser(c).Name, "country": "DE",
		"shares": strconv.Itoa(rules.MinShares),
	}}
	return h.renderJoin(c, http.StatusOK, f, again)
}

func (h *Handler) renderJoin(c echo.Context, status int, f views.Form, again bool) error {
	p, err := h.page(c, "Join the cooperative", "membership")
	if err != nil {
		return err
	}
	rules, err := h.Rules.Current(c.Request().Context())
	if err != nil {
		return err
	}
	return render(c, status, views.JoinPage(p, views.Join{Rules: rules, Again: again}, f))
}

func (h *Handler) renderMembership(c echo.Context, status int, o *membership.MembershipOverview, shares, notice views.Form) error {
	p, err := h.page(c, "Membership", "membership")
	if err != nil {
		return err
	}
	if o.Membership.Status == membership.StatusApplicant {
		return render(c, status, views.MyApplicationPage(p, o))
	}
	if notice.Values == nil {
		notice.Values = map[string]string{"scope": "shares"}
	}
	return render(c, status, views.MembershipPage(p, o, shares, notice))
}

// rerenderMembership shows the membership page again with a rejected form.
func (h *Handler) rerenderMembership(c echo.Context, status int, shares, notice views.Form) error {
	o, err := h.Members.Overview(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	return h.renderMembership(c, status, o, shares, notice)
}

// ApplyForMembership files the application.
func (h *Handler) ApplyForMembership(c echo.Context) error {
	f := formOf(c, joinFields...)
	in := membership.ApplicationInput{
		PersonKind: f.Value("person_kind"), LegalName: f.Value("legal_name"),
		Organisation: f.Value("organisation"), Representative: f.Value("representative"),
		Street: f.Value("street"), PostalCode: f.Value("postal_code"), City: f.Value("city"), Country: f.Value("country"),
		Shares:      formNumber(f.Value("shares")),
		SEPAMandate: f.Value("sepa_mandate") != "", IBAN: f.Value("iban"), AccountHolder: f.Value("account_holder"),
		AcceptBylaws: f.Value("accept_bylaws") != "", BylawsVersion: f.Value("bylaws_version"),
		AcknowledgeNoticePeriod: f.Value("acknowledge_notice") != "",
	}
	if _, err := h.Members.Apply(c.Request().Context(), actor(c), CurrentUser(c).ID, in); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		// The bylaws changed while the form was open: the acceptance was of
		// the old text, so it must be given again for the new one.
		if f.Err("bylaws_version") != "" {
			delete(f.Values, "accept_bylaws")
		}
		return h.renderJoin(c, status, f, false)
	}
	if err := h.Sessions.AddFlash(c, "success", "Thank you! Your application has been received; the board will decide on it."); err != nil {
		return err
	}
	return redirect(c, "/membership")
}

// SubscribeShares declares further shares in two steps: the number typed
// comes back with the exact declaration (§15b GenG); only the confirmed
// declaration is recorded, for the board to admit.
func (h *Handler) SubscribeShares(c echo.Context) error {
	f := formOf(c, "shares", "confirm")
	n := formNumber(f.Value("shares"))
	ctx, userID := c.Request().Context(), CurrentUser(c).ID
	text, err := h.Members.PreviewShares(ctx, userID, n)
	if err == nil && c.FormValue("step") != "confirm" {
		f.Values["declaration"] = text
		return h.rerenderMembership(c, http.StatusOK, f, views.Form{})
	}
	if err == nil {
		_, err = h.Members.SubscribeShares(ctx, actor(c), userID, n, f.Value("confirm") == "yes")
	}
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		if f.Err("confirm") != "" {
			f.Values["declaration"] = text
		}
		return h.rerenderMembership(c, status, f, views.Form{})
	}
	ctx = c.Request().Context()
	msg := i18n.T(ctx, "Your declaration of %s has been recorded; the board decides on its admission.", i18n.N(ctx, "%d further share", "%d further shares", n))
	return h.flashTo(c, "success", msg, "/membership")
}

// GiveNotice gives notice on some shares or on the whole membership.
func (h *Handler) GiveNotice(c echo.Context) error {
	f := formOf(c, "scope", "shares")
	// The domain reads 0 shares as the whole membership, so a blank or
	// mistyped number must never fall through as 0.
	shares := 0
	switch f.Value("scope") {
	case "whole":
	case "shares":
		n, err := strconv.Atoi(strings.TrimSpace(f.Value("shares")))
		if err != nil || n < 1 {
			f.Errors = map[string]string{"shares": "Enter on how many shares you give notice."}
			return h.rerenderMembership(c, http.StatusUnprocessableEntity, views.Form{}, f)
		}
		shares = n
	default:
		f.Errors = map[string]string{"scope": "Choose whether you give notice on shares or on the whole membership."}
		return h.rerenderMembership(c, http.StatusUnprocessableEntity, views.Form{}, f)
	}
	n, err := h.Members.GiveNotice(c.Request().Context(), actor(c), CurrentUser(c).ID, shares)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.rerenderMembership(c, status, views.Form{}, f)
	}
	ctx := c.Request().Context()
	msg := i18n.T(ctx, "Your notice has been recorded. It takes effect on %s.", i18n.Date(ctx, n.EffectiveOn))
	if err := h.Sessions.AddFlash(c, "success", msg); err != nil {
		return err
	}
	return redirect(c, "/membership")
}

// GiveEarlyNotice gives the extraordinary notice of §65(3) GenG.
func (h *Handler) GiveEarlyNotice(c echo.Context) error {
	n, err := h.Members.GiveEarlyNotice(c.Request().Context(), actor(c), CurrentUser(c).ID, c.FormValue("reason"))
	if err != nil {
		return h.refused(c, err, "/membership#early-notice")
	}
	ctx := c.Request().Context()
	return h.flashTo(c, "success", i18n.T(ctx, "Your early notice has been recorded. It takes effect on %s.", i18n.Date(ctx, n.EffectiveOn)), "/membership")
}

// GiveExtraordinaryNotice gives the notice of §67a GenG on a resolution
// changing the bylaws that the member objected to.
func (h *Handler) GiveExtraordinaryNotice(c echo.Context) error {
	n, err := h.Members.GiveExtraordinaryNotice(c.Request().Context(), actor(c), CurrentUser(c).ID, c.FormValue("item_id"))
	if err != nil {
		return h.refused(c, err, "/membership#extraordinary-notice")
	}
	ctx := c.Request().Context()
	return h.flashTo(c, "success", i18n.T(ctx, "Your extraordinary notice has been recorded. Your membership ends on %s; the change of the bylaws does not bind you.", i18n.Date(ctx, n.EffectiveOn)), "/membership")
}

// WithdrawNotice asks the board to let the member withdraw a notice.
func (h *Handler) WithdrawNotice(c echo.Context) error {
	if err := h.Members.RequestNoticeWithdrawal(c.Request().Context(), actor(c), CurrentUser(c).ID, c.Param("id")); err != nil {
		return err
	}
	if err := h.Sessions.AddFlash(c, "success", "Your request to withdraw the notice has gone to the board, which decides on it."); err != nil {
		return err
	}
	return redirect(c, "/membership")
}

// ShowMembershipAddress shows the address form filled with the register's
// current address.
func (h *Handler) ShowMembershipAddress(c echo.Context) error {
	o, err := h.Members.Overview(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	m := o.Membership
	f := views.Form{Values: map[string]string{
		"street": m.Street, "postal_code": m.PostalCode, "city": m.City, "country": m.Country,
	}}
	return h.renderMembershipAddress(c, http.StatusOK, f)
}

func (h *Handler) renderMembershipAddress(c echo.Context, status int, f views.Form) error {
	p, err := h.page(c, "Your address", "membership")
	if err != nil {
		return err
	}
	return render(c, status, views.MembershipAddressPage(p, f))
}

// UpdateMembershipAddress records a corrected address.
func (h *Handler) UpdateMembershipAddress(c echo.Context) error {
	f := formOf(c, "street", "postal_code", "city", "country")
	in := membership.AddressInput{Street: f.Value("street"), PostalCode: f.Value("postal_code"), City: f.Value("city"), Country: f.Value("country")}
	if err := h.Members.UpdateAddress(c.Request().Context(), actor(c), CurrentUser(c).ID, in); err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderMembershipAddress(c, status, f)
	}
	if err := h.Sessions.AddFlash(c, "success", "Your address has been saved."); err != nil {
		return err
	}
	return redirect(c, "/membership")
}

// ExportPersonalData downloads everything kept about the account as JSON
// (right of access, Art. 15 GDPR). no-store: it is personal data, and no
// cache on the way should keep a copy.
func (h *Handler) ExportPersonalData(c echo.Context) error {
	data, err := h.Members.Export(c.Request().Context(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return fmt.Errorf("encode export: %w", err)
	}
	hdr := c.Response().Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set(echo.HeaderContentDisposition,
		fmt.Sprintf(`attachment; filename="allmende-personal-data-%s.json"`, data.ExportedAt.UTC().Format("2006-01-02")))
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

// formNumber reads a whole number from a form. Anything else reads as 0,
// which every caller's domain check rejects with its own message, so a typo
// gets the same explanation as an out-of-range number.
func formNumber(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

// isNotFound reports a domain NotFound, e.g. "no membership yet".
