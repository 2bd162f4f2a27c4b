package models_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"allmende/models"
)

func TestApply(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newMEnv(t, db)
		ada := e.user(t, "ada@example.org")

		m := e.apply(t, ada, "Ada Lovelace", 3)
		if m.Status != models.StatusApplicant || m.MemberNumber != nil {
			t.Errorf("status = %s, number = %v", m.Status, m.MemberNumber)
		}
		if m.IBAN != "DE89370400440532013000" || m.Country != "DE" {
			t.Errorf("not normalised: iban %q country %q", m.IBAN, m.Country)
		}
		if !m.BylawsAcceptedAt.Equal(e.clock.Now()) || m.BylawsVersion != "2026-1" {
			t.Errorf("bylaws acceptance = %s %v", m.BylawsVersion, m.BylawsAcceptedAt)
		}
		for _, want := range []string{"Ada Lovelace", "Hauptstraße 1, 10115 Berlin, DE", "3 share(s)", "150.00 EUR",
			"I accept the bylaws version 2026-1", "2026-03-15T10:00:00Z", "DE89370400440532013000"} {
			if !strings.Contains(m.Declaration, want) {
				t.Errorf("declaration lacks %q:\n%s", want, m.Declaration)
			}
		}
		if n := count(t, db, "audit_events", "action = ? AND target_id = ?", "membership.apply", m.ID); n != 1 {
			t.Errorf("apply audit entries = %d", n)
		}
		if n := mails(t, db, "ada@example.org"); n != 1 {
			t.Errorf("mails to applicant = %d, want 1", n)
		}
		o := e.overview(t, ada.UserID)
		if o.Membership.Status != models.StatusApplicant || len(o.History) != 1 || o.ApprovalsNeeded != 2 {
			t.Errorf("overview: %+v", o)
		}
		if _, err := e.ms.Overview(ctx, e.board1.UserID); err == nil {
			t.Error("overview of an account that never applied")
		}

		// A legal person needs organisation and representative.
		bob := e.user(t, "bob@example.org")
		in := application("Bob", 1)
		in.PersonKind = "legal"
		_, err := e.ms.Apply(ctx, bob, bob.UserID, in)
		fieldErr(t, err, "organisation")
		fieldErr(t, err, "representative")
		in.Organisation, in.Representative = "Bob GmbH", "Bob Builder"
		if _, err := e.ms.Apply(ctx, bob, bob.UserID, in); err != nil {
			t.Fatal(err)
		}
	})
}

func TestApplyBadInputWritesNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newMEnv(t, db)
		ada := e.user(t, "ada@example.org")
		cases := []struct {
			field  string
			mutate func(*models.ApplicationInput)
		}{
			{"shares", func(in *models.ApplicationInput) { in.Shares = 0 }},
			{"shares", func(in *models.ApplicationInput) { in.Shares = 101 }},
			{"iban", func(in *models.ApplicationInput) { in.IBAN = "DE89 3704 0044 0532 0130 01" }},
			{"iban", func(in *models.ApplicationInput) { in.IBAN = "" }},
			{"account_holder", func(in *models.ApplicationInput) { in.AccountHolder = " " }},
			{"accept_bylaws", func(in *models.ApplicationInput) { in.AcceptBylaws = false }},
			{"bylaws_version", func(in *models.ApplicationInput) { in.BylawsVersion = "2025-3" }},
			{"legal_name", func(in *models.ApplicationInput) { in.LegalName = "" }},
			{"country", func(in *models.ApplicationInput) { in.Country = "Germany" }},
			{"person_kind", func(in *models.ApplicationInput) { in.PersonKind = "robot" }},
		}
		before := snapshot(t, db)
		for _, c := range cases {
			in := application("Ada Lovelace", 2)
			c.mutate(&in)
			_, err := e.ms.Apply(ctx, ada, ada.UserID, in)
			fieldErr(t, err, c.field)
		}
		sameSnapshot(t, db, before, "after bad input")

		// The re-read message names the current version.
		in := application("Ada Lovelace", 2)
		in.BylawsVersion = "old"
		_, err := e.ms.Apply(ctx, ada, ada.UserID, in)
		if msg := fieldErr(t, err, "bylaws_version"); !strings.Contains(msg, "2026-1") || !strings.Contains(msg, "read them again") {
			t.Errorf("bylaws message = %q", msg)
		}

		// A second open application is a form-level conflict.
		e.apply(t, ada, "Ada Lovelace", 2)
		before = snapshot(t, db)
		_, err = e.ms.Apply(ctx, ada, ada.UserID, application("Ada Lovelace", 2))
		wantCode(t, err, http.StatusConflict)
		sameSnapshot(t, db, before, "after second application")
	})
}
