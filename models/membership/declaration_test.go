package membership_test

import (
	"context"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/membership"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

// TestDeclarationStatesDutiesAndNoticeAcknowledgement: §15a GenG.
func TestDeclarationStatesDutiesAndNoticeAcknowledgement(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada := e.User(t, "ada@example.org")
		in := modelstest.Application("Ada Lovelace", 2)
		in.AcknowledgeNoticePeriod = false
		_, err := e.Memberships.Apply(ctx, ada, ada.UserID, in)
		if msg := modelstest.FieldErr(t, err, "acknowledge_notice"); !strings.Contains(msg, "24 months") {
			t.Errorf("message = %q", msg)
		}
		e.SetRule(t, rulebook.RuleAdditionalContributions, "10000")
		in.AcknowledgeNoticePeriod = true
		m, err := e.Memberships.Apply(ctx, ada, ada.UserID, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"I subscribe 2 share(s)", "I undertake to pay in the full amount",
			"up to the liability sum of 100.00 EUR per share", "24 months' notice", "I acknowledge expressly that this notice period is longer than one year."} {
			if !strings.Contains(m.Declaration, want) {
				t.Errorf("declaration lacks %q:\n%s", want, m.Declaration)
			}
		}
		// With a period of one year, no acknowledgement is asked.
		e.SetRule(t, rulebook.RuleNoticePeriodMonths, "12")
		e.SetRule(t, rulebook.RuleAdditionalContributions, "unlimited")
		p, _ := e.Rules.Current(ctx)
		var clauses string
		for _, c := range membership.DeclarationClauses(p) {
			clauses += c.String() + " "
		}
		if strings.Contains(clauses, "acknowledge") || !strings.Contains(clauses, "without limit") {
			t.Errorf("clauses = %s", clauses)
		}
		bob := e.User(t, "bob@example.org")
		in.AcknowledgeNoticePeriod = false
		if _, err := e.Memberships.Apply(ctx, bob, bob.UserID, in); err != nil {
			t.Fatalf("a one-year notice period asked for an acknowledgement: %v", err)
		}
		modelstest.FieldErr(t, e.Rules.Set(ctx, e.Board1, rulebook.RuleAdditionalContributions, "some", e.Clock.Now(), "test"), "value")
	})
}
