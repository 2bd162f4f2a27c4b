package membership_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/membership"
	"allmende/models/modelstest"
)

func TestApply(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada := e.User(t, "ada@example.org")

		m := e.Apply(t, ada, "Ada Lovelace", 3)
		if m.Status != membership.StatusApplicant || m.MemberNumber != nil {
			t.Errorf("status = %s, number = %v", m.Status, m.MemberNumber)
		}
		if m.IBAN != "DE89370400440532013000" || m.Country != "DE" {
			t.Errorf("not normalised: iban %q country %q", m.IBAN, m.Country)
		}
		if !m.BylawsAcceptedAt.Equal(e.Clock.Now()) || m.BylawsVersion != "2026-1" {
			t.Errorf("bylaws acceptance = %s %v", m.BylawsVersion, m.BylawsAcceptedAt)
		}
		for _, want := range []string{"Ada Lovelace", "Hauptstraße 1, 10115 Berlin, DE", "3 share(s)", "150.00 EUR",
			"I have read the bylaws, version 2026-1, and accept them.", "2026-03-15T10:00:00Z", "DE89370400440532013000"} {
			if !strings.Contains(m.Declaration, want) {
				t.Errorf("declaration lacks %q:\n%s", want, m.Declaration)
			}
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ? AND target_id = ?", "membership.apply", m.ID); n != 1 {
			t.Errorf("apply audit entries = %d", n)
		}
		if n := modelstest.Mails(t, db, "ada@example.org"); n != 1 {
			t.Errorf("mails to applicant = %d, want 1", n)
		}
		o := e.Overview(t, ada.UserID)
		if o.Membership.Status != membership.StatusApplicant || len(o.History) != 1 || o.ApprovalsNeeded != 2 {
			t.Errorf("overview: %+v", o)
		}
		if _, err := e.Memberships.Overview(ctx, e.Board1.UserID); err == nil {
			t.Error("overview of an account that never applied")
		}

		// A legal person needs organisation and representative.
		bob := e.User(t, "bob@example.org")
		in := modelstest.Application("Bob", 1)
		in.PersonKind = "legal"
		_, err := e.Memberships.Apply(ctx, bob, bob.UserID, in)
		modelstest.FieldErr(t, err, "organisation")
		modelstest.FieldErr(t, err, "representative")
		in.Organisation, in.Representative = "Bob GmbH", "Bob Builder"
		if _, err := e.Memberships.Apply(ctx, bob, bob.UserID, in); err != nil {
			t.Fatal(err)
		}
	})
}

func TestApplyBadInputWritesNothing(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada := e.User(t, "ada@example.org")
		cases := []struct {
			field  string
			mutate func(*membership.ApplicationInput)
		}{
			{"shares", func(in *membership.ApplicationInput) { in.Shares = 0 }},
			{"shares", func(in *membership.ApplicationInput) { in.Shares = 101 }},
			{"iban", func(in *membership.ApplicationInput) { in.IBAN = "DE89 3704 0044 0532 0130 01" }},
			{"iban", func(in *membership.ApplicationInput) { in.IBAN = "" }},
			{"account_holder", func(in *membership.ApplicationInput) { in.AccountHolder = " " }},
			{"accept_bylaws", func(in *membership.ApplicationInput) { in.AcceptBylaws = false }},
			{"bylaws_version", func(in *membership.ApplicationInput) { in.BylawsVersion = "2025-3" }},
			{"legal_name", func(in *membership.ApplicationInput) { in.LegalName = "" }},
			{"country", func(in *membership.ApplicationInput) { in.Country = "Germany" }},
			{"person_kind", func(in *membership.ApplicationInput) { in.PersonKind = "robot" }},
		}
		before := modelstest.Snapshot(t, db)
		for _, c := range cases {
			in := modelstest.Application("Ada Lovelace", 2)
			c.mutate(&in)
			_, err := e.Memberships.Apply(ctx, ada, ada.UserID, in)
			modelstest.FieldErr(t, err, c.field)
		}
		modelstest.SameSnapshot(t, db, before, "after bad input")

		// The re-read message names the current version.
		in := modelstest.Application("Ada Lovelace", 2)
		in.BylawsVersion = "old"
		_, err := e.Memberships.Apply(ctx, ada, ada.UserID, in)
		if msg := modelstest.FieldErr(t, err, "bylaws_version"); !strings.Contains(msg, "2026-1") || !strings.Contains(msg, "read them again") {
			t.Errorf("bylaws message = %q", msg)
		}

		// A second open application is a form-level conflict.
		e.Apply(t, ada, "Ada Lovelace", 2)
		before = modelstest.Snapshot(t, db)
		_, err = e.Memberships.Apply(ctx, ada, ada.UserID, modelstest.Application("Ada Lovelace", 2))
		modelstest.WantCode(t, err, http.StatusConflict)
		modelstest.SameSnapshot(t, db, before, "after second application")
	})
}
