package membership_test

import (
	"context"
	"net/http"
	"testing"

	"allmende/models"
	"allmende/models/membership"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func TestPaymentsAndEntitlement(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, m := e.Member(t, "ada@example.org", "Ada Lovelace", 3)
		today := modelstest.Day(2026, 3, 15)

		before := modelstest.Snapshot(t, db)
		modelstest.FieldErr(t, e.Memberships.RecordPayment(ctx, e.Board1, m.ID, 0, today, ""), "amount")
		modelstest.FieldErr(t, e.Memberships.RecordPayment(ctx, e.Board1, m.ID, 100, today.AddDate(0, 0, 1), ""), "date")
		_, err := e.Memberships.CheckPayment(ctx, m.ID, 0, today, "")
		modelstest.FieldErr(t, err, "amount")
		modelstest.FieldErr(t, e.Memberships.RecordPayment(ctx, e.Board1, m.ID, 100, today, "paid\x00in cash"), "note")
		_, err = e.Memberships.CheckPayment(ctx, m.ID, 100, today, "\x1b[2J")
		modelstest.FieldErr(t, err, "note")
		check, err := e.Memberships.CheckPayment(ctx, m.ID, 20000, today, "")
		if err != nil {
			t.Fatal(err)
		}
		if check.OwedCents != 15000 || check.ExcessCents != 5000 || check.Name != "Ada Lovelace" || check.MemberNumber == 0 {
			t.Errorf("check of EUR 200 on 3 unpaid shares: %+v", check)
		}
		modelstest.SameSnapshot(t, db, before, "after bad payments and a check")

		steps := []struct {
			pay        int64
			paidShares int
		}{{7000, 1}, {8000, 3}, {10000, 3}}
		for _, s := range steps {
			if err := e.Memberships.RecordPayment(ctx, e.Board1, m.ID, s.pay, today, "bank transfer"); err != nil {
				t.Fatal(err)
			}
			o := e.Overview(t, ada.UserID)
			want := rulebook.Entitlement{VCPUs: s.paidShares, MemoryMiB: 2048 * s.paidShares, DiskGiB: 20 * s.paidShares}
			if o.SharesPaid != s.paidShares || o.Entitlement != want {
				t.Errorf("after paying %d: paid shares %d, entitlement %+v; want %d, %+v", s.pay, o.SharesPaid, o.Entitlement, s.paidShares, want)
			}
		}
		o := e.Overview(t, ada.UserID)
		if o.CapitalPaidCents != 25000 || len(o.CapitalLedger) != 3 {
			t.Errorf("capital = %d in %d rows", o.CapitalPaidCents, len(o.CapitalLedger))
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'membership.payment'"); n != 3 {
			t.Errorf("payment audits = %d", n)
		}
		if reg, err := e.Memberships.Register(ctx, membership.RegisterFilter{}); err != nil || len(reg) != 1 ||
			reg[0].PaidCents != 25000 || reg[0].OwedCents != 0 {
			t.Errorf("register paid / owed: %+v, %v", reg, err)
		}
		if check, err := e.Memberships.CheckPayment(ctx, m.ID, 100, today, ""); err != nil || check.OwedCents != 0 || check.ExcessCents != 100 {
			t.Errorf("check after paying in full: %+v, %v", check, err)
		}
		// An applicant cannot pay yet.
		bob := e.User(t, "bob@example.org")
		app := e.Apply(t, bob, "Bob", 1)
		modelstest.WantCode(t, e.Memberships.RecordPayment(ctx, e.Board1, app.ID, 5000, today, ""), http.StatusConflict)
		_, err = e.Memberships.CheckPayment(ctx, app.ID, 5000, today, "")
		modelstest.WantCode(t, err, http.StatusConflict)
	})
}

func TestLedgerReversalsAndTransfers(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, a := e.Member(t, "ada@example.org", "Ada", 2)
		bob, b := e.Member(t, "bob@example.org", "Bob", 1)
		today := modelstest.Day(2026, 3, 15)
		if err := e.Memberships.RecordPayment(ctx, e.Board1, a.ID, 10000, today, ""); err != nil {
			t.Fatal(err)
		}
		deposit := e.Overview(t, ada.UserID).CapitalLedger[0]

		// Reversal restores the balance; a second reversal and the reversal
		// of a reversal are refused.
		modelstest.FieldErr(t, e.Memberships.ReverseCapitalTransaction(ctx, e.Board1, deposit.ID, ""), "reason")
		if err := e.Memberships.ReverseCapitalTransaction(ctx, e.Board1, deposit.ID, "booked on the wrong member"); err != nil {
			t.Fatal(err)
		}
		o := e.Overview(t, ada.UserID)
		if o.CapitalPaidCents != 0 || len(o.CapitalLedger) != 2 || o.CapitalLedger[1].Kind != membership.CapitalReversal ||
			*o.CapitalLedger[1].ReversesID != deposit.ID {
			t.Errorf("after reversal: %d cents, %+v", o.CapitalPaidCents, o.CapitalLedger)
		}
		modelstest.WantCode(t, e.Memberships.ReverseCapitalTransaction(ctx, e.Board1, deposit.ID, "again"), http.StatusConflict)
		modelstest.WantCode(t, e.Memberships.ReverseCapitalTransaction(ctx, e.Board1, o.CapitalLedger[1].ID, "undo"), http.StatusConflict)

		// Transfers move capital; a reversal that would leave a negative
		// balance is refused.
		if err := e.Memberships.RecordPayment(ctx, e.Board1, a.ID, 10000, today, ""); err != nil {
			t.Fatal(err)
		}
		deposit2 := e.Overview(t, ada.UserID).CapitalLedger[2]
		modelstest.WantCode(t, e.Memberships.TransferCapital(ctx, e.Board1, a.ID, b.ID, 10001, today, ""), http.StatusConflict)
		modelstest.FieldErr(t, e.Memberships.TransferCapital(ctx, e.Board1, a.ID, a.ID, 1, today, ""), "to")
		if err := e.Memberships.TransferCapital(ctx, e.Board1, a.ID, b.ID, 6000, today, "gift"); err != nil {
			t.Fatal(err)
		}
		if got := e.Overview(t, bob.UserID).CapitalPaidCents; got != 6000 {
			t.Errorf("bob's capital = %d", got)
		}
		before := modelstest.Snapshot(t, db)
		err := e.Memberships.ReverseCapitalTransaction(ctx, e.Board1, deposit2.ID, "oops")
		if de := modelstest.WantCode(t, err, http.StatusConflict); de.Safe == "" {
			t.Error("no message")
		}
		modelstest.SameSnapshot(t, db, before, "after refused reversal")

		// Reversing one side of a transfer reverses both.
		in := e.Overview(t, bob.UserID).CapitalLedger[0]
		if err := e.Memberships.ReverseCapitalTransaction(ctx, e.Board1, in.ID, "gift declined"); err != nil {
			t.Fatal(err)
		}
		if a, b := e.Overview(t, ada.UserID).CapitalPaidCents, e.Overview(t, bob.UserID).CapitalPaidCents; a != 10000 || b != 0 {
			t.Errorf("after transfer reversal: ada %d, bob %d", a, b)
		}

		// Shares: reverse the admission booking once.
		sub := e.Overview(t, bob.UserID).ShareLedger[0]
		if err := e.Memberships.ReverseShareTransaction(ctx, e.Board1, sub.ID, "admitted by mistake"); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.ReverseShareTransaction(ctx, e.Board1, sub.ID, "again"), http.StatusConflict)
		if got := e.Overview(t, bob.UserID).SharesSubscribed; got != 0 {
			t.Errorf("bob's shares = %d", got)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'ledger.reversal'"); n != 4 {
			t.Errorf("reversal audits = %d, want 4", n)
		}

		// The database itself refuses to edit the books.
		for _, table := range []string{"share_transactions", "capital_transactions"} {
			if err := db.Gorm.Exec("UPDATE " + table + " SET note = 'forged'").Error; err == nil {
				t.Errorf("UPDATE on %s succeeded", table)
			}
			if err := db.Gorm.Exec("DELETE FROM " + table).Error; err == nil {
				t.Errorf("DELETE on %s succeeded", table)
			}
		}
	})
}
