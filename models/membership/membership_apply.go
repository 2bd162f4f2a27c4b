package membership

import (
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ApplicationInput is what the membership application form submits.
type ApplicationInput struct {
	PersonKind     string // PersonNatural or PersonLegal
	LegalName      string
	Organisation   string // legal persons: the registered name
	Representative string // legal persons: who signs for it
	Street         string
	PostalCode     string
	City           string
	Country        string // ISO 3166 alpha-2
	Shares         int
	SEPAMandate    bool
	IBAN           string
	AccountHolder  string
	AcceptBylaws   bool   // also the confirmation of the declaration (DeclarationClauses)
	BylawsVersion  string // the version the applicant read
	// AcknowledgeNoticePeriod: the applicant acknowledged a notice period
	// longer than one year (required then).
	AcknowledgeNoticePeriod bool
}

// AddressInput is a postal address.
type AddressInput struct {
	Street, PostalCode, City, Country string
}

func (a *AddressInput) normalize() {
	a.Street, a.PostalCode, a.City = strings.TrimSpace(a.Street), strings.TrimSpace(a.PostalCode), strings.TrimSpace(a.City)
	a.Country = strings.ToUpper(strings.TrimSpace(a.Country))
}

func (a AddressInput) validate(fields map[string]string) {
	kit.TextField(fields, "street", a.Street, "Enter your street and house number.", 200)
	kit.TextField(fields, "postal_code", a.PostalCode, "Enter your postal code.", 20)
	kit.TextField(fields, "city", a.City, "Enter your city.", 100)
	if !IsCountry(a.Country) {
		fields["country"] = "Enter the two-letter country code, e.g. DE."
	}
}

func (in *ApplicationInput) normalize() {
	in.PersonKind = strings.ToLower(strings.TrimSpace(in.PersonKind))
	in.LegalName, in.Organisation = strings.TrimSpace(in.LegalName), strings.TrimSpace(in.Organisation)
	in.Representative, in.AccountHolder = strings.TrimSpace(in.Representative), strings.TrimSpace(in.AccountHolder)
	in.BylawsVersion = strings.TrimSpace(in.BylawsVersion)
	in.IBAN = normalizeIBAN(in.IBAN)
	addr := in.address()
	addr.normalize()
	in.Street, in.PostalCode, in.City, in.Country = addr.Street, addr.PostalCode, addr.City, addr.Country
}

func (in *ApplicationInput) address() AddressInput {
	return AddressInput{Street: in.Street, PostalCode: in.PostalCode, City: in.City, Country: in.Country}
}

func (in *ApplicationInput) validate(p rulebook.RuleParams) (fields map[string]string, msgs map[string]models.Msg) {
	fields, msgs = map[string]string{}, map[string]models.Msg{}
	switch in.PersonKind {
	case PersonNatural:
	case PersonLegal:
		kit.TextField(fields, "organisation", in.Organisation, "Enter the registered name of the organisation.", 200)
		kit.TextField(fields, "representative", in.Representative, "Enter who represents the organisation.", 200)
	default:
		fields["person_kind"] = "Choose whether you apply as a natural or a legal person."
	}
	kit.TextField(fields, "legal_name", in.LegalName, "Enter your full legal name.", 200)
	in.address().validate(fields)
	if in.Shares < p.MinShares || in.Shares > p.MaxShares {
		msgs["shares"] = models.Msgf("Subscribe between %d and %d shares.", p.MinShares, p.MaxShares)
	}
	// Bank details matter only with a direct-debit mandate; without one
	// they are neither checked nor kept.
	if in.SEPAMandate {
		switch {
		case in.IBAN == "":
			fields["iban"] = "Enter the IBAN of the account to debit."
		case !validIBAN(in.IBAN):
			fields["iban"] = "This is not a valid IBAN; please check it for typos."
		}
		kit.TextField(fields, "account_holder", in.AccountHolder, "Enter the name of the account holder.", 200)
	}
	if !in.AcceptBylaws {
		fields["accept_bylaws"] = "To become a member you need to make the declaration and accept the bylaws."
	}
	if p.NoticePeriodMonths > 12 && !in.AcknowledgeNoticePeriod {
		msgs["acknowledge_notice"] = models.Msgf("Acknowledge that you can leave only with %d months' notice.", p.NoticePeriodMonths)
	}
	if in.BylawsVersion != p.BylawsVersion {
		msgs["bylaws_version"] = models.Msgf("The bylaws have changed (now version %s); please read them again before you accept them.", p.BylawsVersion)
	}
	return fields, msgs
}

// Apply files a membership application for userID. Bad input yields field
// errors and writes nothing; an account with an open application or
// membership gets a Conflict.
func (s *Memberships) Apply(ctx context.Context, actor models.Actor, userID string, in ApplicationInput) (*Membership, error) {
	in.normalize()
	var m *Membership
	err := s.tx(ctx, func(tx *gorm.DB) error {
		now := s.now()
		p, err := rulebook.RulesAt(tx, now)
		if err != nil {
			return err
		}
		if fields, msgs := in.validate(p); len(fields)+len(msgs) > 0 {
			return models.InvalidFields(fields, msgs)
		}
		var u account.User
		if err := kit.First(tx, &u, userID, "account"); err != nil {
			return err
		}
		var open int64
		if err := tx.Model(&Membership{}).Where("user_id = ? AND status IN ?", userID, openStatuses).Count(&open).Error; err != nil {
			return fmt.Errorf("check open memberships: %w", err)
		}
		if open > 0 {
			return alreadyOpen()
		}
		m = &Membership{
			ID: kit.NewID(), UserID: userID, Status: StatusApplicant, PersonKind: in.PersonKind,
			LegalName: in.LegalName, Street: in.Street, PostalCode: in.PostalCode, City: in.City, Country: in.Country,
			SharesApplied: in.Shares, SEPAMandate: in.SEPAMandate, BylawsVersion: p.BylawsVersion, BylawsAcceptedAt: now,
			AppliedAt: now, CreatedAt: now, UpdatedAt: now,
		}
		if in.PersonKind == PersonLegal {
			m.Organisation, m.Representative = in.Organisation, in.Representative
		}
		if in.SEPAMandate {
			m.IBAN, m.AccountHolder = in.IBAN, in.AccountHolder
		}
		m.Declaration = declaration(m, u.Email, p)
		if err := tx.Create(m).Error; err != nil {
			if kit.IsUniqueViolation(err) { // a concurrent application won
				return alreadyOpen()
			}
			return fmt.Errorf("insert application: %w", err)
		}
		if err := s.addEvent(tx, m.ID, EventApplied, s.today(), models.Msgf("applied for %d shares", m.SharesApplied)); err != nil {
			return err
		}
		// The audit entry outlives a rejection, so it holds no personal data.
		if err := kit.RecordAudit(tx, actor, "membership.apply", "membership", m.ID,
			map[string]any{"shares": m.SharesApplied, "person_kind": m.PersonKind, "bylaws_version": m.BylawsVersion}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail {
			return mailApplicationReceived(ctx, r, m)
		})
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func alreadyOpen() *models.Error {
	return models.Conflict("You already have an open membership application or are a member.")
}

// declaration writes down what the applicant declared, in text form, as the
// record of the declaration of membership (§15 GenG).
func declaration(m *Membership, email string, p rulebook.RuleParams) string {
	var b strings.Builder
	b.WriteString("Declaration of membership\n\n")
	if m.PersonKind == PersonLegal {
		fmt.Fprintf(&b, "I, %s, representing %s (represented by %s), apply for membership of the cooperative.\n",
			m.LegalName, m.Organisation, m.Representative)
	} else {
		fmt.Fprintf(&b, "I, %s, apply for membership of the cooperative.\n", m.LegalName)
	}
	fmt.Fprintf(&b, "Address: %s, %s %s, %s\n", m.Street, m.PostalCode, m.City, m.Country)
	fmt.Fprintf(&b, "I subscribe %d share(s) of %s each, %s in total.\n",
		m.SharesApplied, kit.FormatCents(p.SharePriceCents), kit.FormatCents(int64(m.SharesApplied)*p.SharePriceCents))
	for _, c := range DeclarationClauses(p) {
		b.WriteString(c.String() + "\n")
	}
	if m.SEPAMandate {
		fmt.Fprintf(&b, "I grant a SEPA direct debit mandate for the account %s held by %s.\n", m.IBAN, m.AccountHolder)
	}
	fmt.Fprintf(&b, "\nDeclared in text form by the account %s on %s.\n", email, m.BylawsAcceptedAt.Format(time.RFC3339))
	return b.String()
}

// Clause is one statement of the declaration: an English message with its
// arguments, so that a page can show it in the reader's language (the
// message is the translation's id), and String gives the stored wording.
type Clause struct {
	Msg  string
	Args []any // ints, strings, and Cents for amounts of money
}

// Cents is an amount of money among a Clause's arguments; a page formats
// it in the reader's language.
type Cents int64

// String is the clause in English, as the declaration stores it.
func (c Clause) String() string {
	args := make([]any, len(c.Args))
	for i, a := range c.Args {
		if cents, ok := a.(Cents); ok {
			a = kit.FormatCents(int64(cents))
		}
		args[i] = a
	}
	return fmt.Sprintf(c.Msg, args...)
}

// DeclarationClauses are the statements of the declaration of membership
// the Join page shows and the applicant confirms, word for word as they are
// stored (§15a GenG): the duty to pay in the shares, the additional
// contributions the bylaws provide for, the notice period — acknowledged
// expressly when longer than one year — and the bylaws accepted.
func DeclarationClauses(p rulebook.RuleParams) []Clause {
	out := []Clause{{Msg: "I undertake to pay in the full amount of the shares I subscribe, as the bylaws require."}}
	switch p.AdditionalContributions {
	case "none", "":
		out = append(out, Clause{Msg: "The bylaws exclude any obligation of members to make additional contributions to the insolvency estate."})
	case "unlimited":
		out = append(out, Clause{Msg: "Should the cooperative become insolvent, I am obliged to make additional contributions to the insolvency estate without limit, as the bylaws provide."})
	default:
		cents, _ := strconv.ParseInt(p.AdditionalContributions, 10, 64)
		out = append(out, Clause{Msg: "Should the cooperative become insolvent, I am obliged to make additional contributions to the insolvency estate up to the liability sum of %s per share, as the bylaws provide.", Args: []any{Cents(cents)}})
	}
	if p.NoticePeriodMonths > 12 {
		out = append(out, Clause{Msg: "I can leave the cooperative by giving %d months' notice to the end of a business year. I acknowledge expressly that this notice period is longer than one year.", Args: []any{p.NoticePeriodMonths}})
	} else {
		out = append(out, Clause{Msg: "I can leave the cooperative by giving %d months' notice to the end of a business year.", Args: []any{p.NoticePeriodMonths}})
	}
	return append(out, Clause{Msg: "I have read the bylaws, version %s, and accept them.", Args: []any{p.BylawsVersion}})
}
