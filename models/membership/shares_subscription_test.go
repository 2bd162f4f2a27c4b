package membership_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/membership"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func TestFurtherSharesNeedDeclarationAndAdmission(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, a := e.Member(t, "ada@example.org", "Ada Lovelace", 2)
		bob, _ := e.Member(t, "bob@example.org", "Bob Builder", 1)

		// The exact text, confirmed, or nothing.
		text, err := e.Memberships.PreviewShares(ctx, ada.UserID, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Ada Lovelace (member number 1)", "3 further share(s) of 50.00 EUR each, 150.00 EUR in total", "undertake to pay in"} {
			if !strings.Contains(text, want) {
				t.Errorf("declaration %q lacks %q", text, want)
			}
		}
		_, err = e.Memberships.SubscribeShares(ctx, ada, ada.UserID, 3, false)
		modelstest.FieldErr(t, err, "confirm")
		sub, err := e.Memberships.SubscribeShares(ctx, ada, ada.UserID, 3, true)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Declaration != text || sub.Status != membership.SubscriptionPending {
			t.Errorf("stored declaration = %+v", sub)
		}
		// Declared is not held: the ledger waits for the board.
		if o := e.Overview(t, ada.UserID); o.SharesSubscribed != 2 || o.PendingShares() != 3 {
			t.Errorf("after the declaration: %d held, %d pending", o.SharesSubscribed, o.PendingShares())
		}
		// Pending shares count against the maximum.
		_, err = e.Memberships.SubscribeShares(ctx, ada, ada.UserID, 96, true)
		if msg := modelstest.FieldErr(t, err, "shares"); !strings.Contains(msg, "3 more await admission") {
			t.Errorf("message = %q", msg)
		}

		// Only the board, not for itself.
		modelstest.WantCode(t, e.Memberships.AdmitShares(ctx, bob, sub.ID), http.StatusForbidden)
		// §15b(3): not while the two shares held are unpaid.
		err = e.Memberships.AdmitShares(ctx, e.Board1, sub.ID)
		if de := modelstest.WantCode(t, err, http.StatusConflict); !strings.Contains(de.Safe, "§15b(3)") || !strings.Contains(de.Safe, "100.00 EUR owed") {
			t.Errorf("message = %q", de.Safe)
		}
		if err := e.Memberships.RecordPayment(ctx, e.Board1, a.ID, 10000, e.Clock.Now(), ""); err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.AdmitShares(ctx, e.Board1, sub.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.AdmitShares(ctx, e.Board2, sub.ID), http.StatusConflict)
		o := e.Overview(t, ada.UserID)
		if o.SharesSubscribed != 5 || o.PendingShares() != 0 || o.FurtherShares[0].Status != membership.SubscriptionAdmitted {
			t.Errorf("after admission: %d held, %+v", o.SharesSubscribed, o.FurtherShares)
		}

		// A compulsory holding is admitted while shares are unpaid.
		e.SetRule(t, rulebook.RuleCompulsoryShares, "3")
		sub2, err := e.Memberships.SubscribeShares(ctx, bob, bob.UserID, 2, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.AdmitShares(ctx, e.Board2, sub2.ID); err != nil {
			t.Fatalf("compulsory shares refused: %v", err)
		}
		sub3, err := e.Memberships.SubscribeShares(ctx, bob, bob.UserID, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.AdmitShares(ctx, e.Board2, sub3.ID), http.StatusConflict) // beyond the compulsory 3
		modelstest.FieldErr(t, e.Memberships.RejectShares(ctx, e.Board2, sub3.ID, ""), "reason")
		if err := e.Memberships.RejectShares(ctx, e.Board2, sub3.ID, "Pay in the shares you hold first."); err != nil {
			t.Fatal(err)
		}
		if o := e.Overview(t, bob.UserID); o.SharesSubscribed != 3 || o.FurtherShares[0].Status != membership.SubscriptionRejected {
			t.Errorf("bob after the rejection: %d, %+v", o.SharesSubscribed, o.FurtherShares)
		}
		if n := modelstest.Mails(t, db, "bob@example.org"); n != 6 { // received, admitted, 2 declared, admitted, rejected
			t.Errorf("mails to bob = %d, want 6", n)
		}
	})
}
