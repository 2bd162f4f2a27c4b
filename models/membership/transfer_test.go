package membership_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/models/modelstest"
)

func TestTransferOfCapital(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, a := e.Member(t, "ada@example.org", "Ada Lovelace", 3)
		bob, b := e.Member(t, "bob@example.org", "Bob Builder", 2)
		for _, p := range []struct {
			id    string
			cents int64
		}{{a.ID, 15000}, {b.ID, 5000}} {
			if err := e.Memberships.RecordPayment(ctx, e.Board1, p.id, p.cents, e.Clock.Now(), ""); err != nil {
				t.Fatal(err)
			}
		}

		// A partial transfer: one paid share's capital, the share given up.
		in := membership.TransferInput{ToMemberNumber: *b.MemberNumber, Shares: 1}
		text, err := e.Memberships.PreviewTransfer(ctx, ada.UserID, in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "Ada Lovelace (member number 1) transfers to Bob Builder (member number 2) the paid-in capital of 1 share, €50.00") {
			t.Errorf("agreement = %q", text)
		}
		_, err = e.Memberships.ProposeTransfer(ctx, ada, ada.UserID, in)
		modelstest.FieldErr(t, err, "confirm")
		_, err = e.Memberships.ProposeTransfer(ctx, ada, ada.UserID, membership.TransferInput{ToMemberNumber: 99, Shares: 1, Confirm: true})
		modelstest.FieldErr(t, err, "to")
		_, err = e.Memberships.ProposeTransfer(ctx, ada, ada.UserID, membership.TransferInput{ToMemberNumber: *b.MemberNumber, Shares: 3, Confirm: true})
		modelstest.FieldErr(t, err, "shares") // the minimum stays
		in.Confirm = true
		tr, err := e.Memberships.ProposeTransfer(ctx, ada, ada.UserID, in)
		if err != nil {
			t.Fatal(err)
		}
		// Not before the receiver agrees; only the receiver agrees.
		modelstest.WantCode(t, e.Memberships.ExecuteTransfer(ctx, e.Board1, tr.ID), http.StatusConflict)
		modelstest.WantCode(t, e.Memberships.AgreeTransfer(ctx, ada, ada.UserID, tr.ID, true), http.StatusNotFound)
		if err := e.Memberships.AgreeTransfer(ctx, bob, bob.UserID, tr.ID, true); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.ExecuteTransfer(ctx, bob, tr.ID), http.StatusForbidden)
		// Bob's capital reaches exactly his two shares' worth: allowed.
		if err := e.Memberships.ExecuteTransfer(ctx, e.Board1, tr.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.ExecuteTransfer(ctx, e.Board1, tr.ID), http.StatusConflict)
		oa, ob := e.Overview(t, ada.UserID), e.Overview(t, bob.UserID)
		if oa.SharesSubscribed != 2 || oa.CapitalPaidCents != 10000 || len(oa.Refunds) != 0 || oa.Membership.Status != membership.StatusMember {
			t.Errorf("ada after the partial transfer: %d shares, %d cents, refunds %+v", oa.SharesSubscribed, oa.CapitalPaidCents, oa.Refunds)
		}
		if ob.SharesSubscribed != 2 || ob.CapitalPaidCents != 10000 {
			t.Errorf("bob after the transfer: %d shares, %d cents", ob.SharesSubscribed, ob.CapitalPaidCents)
		}

		// A proposal the transferor takes back; only she can.
		back, err := e.Memberships.ProposeTransfer(ctx, ada, ada.UserID, membership.TransferInput{ToMemberNumber: *b.MemberNumber, Shares: 1, Confirm: true})
		if err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.WithdrawTransfer(ctx, bob, bob.UserID, back.ID), http.StatusNotFound)
		if err := e.Memberships.WithdrawTransfer(ctx, ada, ada.UserID, back.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.AgreeTransfer(ctx, bob, bob.UserID, back.ID, true), http.StatusConflict)

		// The whole capital: Bob's shares are full, so he must subscribe first.
		whole, err := e.Memberships.ProposeTransfer(ctx, ada, ada.UserID, membership.TransferInput{ToMemberNumber: *b.MemberNumber, Confirm: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.AgreeTransfer(ctx, bob, bob.UserID, whole.ID, true); err != nil {
			t.Fatal(err)
		}
		err = e.Memberships.ExecuteTransfer(ctx, e.Board2, whole.ID)
		if de := modelstest.WantCode(t, err, http.StatusConflict); !strings.Contains(de.Safe, "subscribe 2 further share(s) first") {
			t.Errorf("message = %q", de.Safe)
		}
		sub, err := e.Memberships.SubscribeShares(ctx, bob, bob.UserID, 2, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.AdmitShares(ctx, e.Board1, sub.ID); err != nil {
			t.Fatal(err) // Bob's two shares are paid
		}
		if err := e.Memberships.ExecuteTransfer(ctx, e.Board2, whole.ID); err != nil {
			t.Fatal(err)
		}
		oa, ob = e.Overview(t, ada.UserID), e.Overview(t, bob.UserID)
		if oa.Membership.Status != membership.StatusFormer || oa.CapitalPaidCents != 0 || len(oa.Refunds) != 0 || oa.Membership.LeaveReason != "transfer" {
			t.Errorf("ada after the full transfer: %s, %d cents, refunds %+v (no settlement)", oa.Membership.Status, oa.CapitalPaidCents, oa.Refunds)
		}
		if ob.CapitalPaidCents != 20000 || ob.SharesSubscribed != 4 {
			t.Errorf("bob: %d cents for %d shares", ob.CapitalPaidCents, ob.SharesSubscribed)
		}
		if u, _ := account.NewAccounts(db).Get(ctx, ada.UserID); u.Has(account.RoleMember) {
			t.Error("ada keeps the member role after transferring everything")
		}
		if n := modelstest.Count(t, db, "membership_events", "kind = ? AND membership_id = ?", membership.EventCapitalTransferred, b.ID); n != 2 {
			t.Errorf("bob's register events of received capital = %d, want 2", n)
		}
	})
}
