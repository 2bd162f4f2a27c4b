package membership_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"gorm.io/gorm"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/membership"
	"allmende/models/modelstest"
)

// TestStoredTextsKeepTheirMessage: the history details and the share
// ledger's notes the portal writes keep their English text (the record)
// and, read back from the database, the format and arguments the pages
// translate, numbers as ints a %d takes; a row from before has none.
func TestStoredTextsKeepTheirMessage(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := modelstest.NewMEnv(t, db)
		ada, _ := e.Member(t, "ada@example.org", "Ada Lovelace", 3)
		o := e.Overview(t, ada.UserID)
		want := map[string]models.Msg{
			"applied for 3 shares":               models.Msgf("applied for %d shares", 3),
			"admitted as member 1 with 3 shares": models.Msgf("admitted as member %d with %d shares", 1, 3),
		}
		if len(o.History) != len(want) {
			t.Fatalf("history = %+v", o.History)
		}
		for _, ev := range o.History {
			m, ok := want[ev.Detail]
			if !ok {
				t.Errorf("unexpected detail %q", ev.Detail)
				continue
			}
			if !reflect.DeepEqual(ev.DetailMsg, m) || ev.DetailMsg.String() != ev.Detail {
				t.Errorf("%q: message %#v, want %#v", ev.Detail, ev.DetailMsg, m)
			}
		}
		if len(o.ShareLedger) != 1 || o.ShareLedger[0].Note != "admission" || o.ShareLedger[0].NoteMsg.Format != "admission" {
			t.Errorf("share ledger = %+v", o.ShareLedger)
		}

		// A row written before the message was kept is shown as stored.
		if err := db.Gorm.Exec("UPDATE membership_events SET detail_msg = '' WHERE detail = ?", "applied for 3 shares").Error; err != nil {
			t.Fatal(err)
		}
		for _, ev := range e.Overview(t, ada.UserID).History {
			if ev.Detail == "applied for 3 shares" && ev.DetailMsg.Format != "" {
				t.Errorf("an old row reads back a message: %#v", ev.DetailMsg)
			}
		}
	})
}

// TestStoredRecordsKeepTheirMessage: the §67a note that a change of the
// bylaws does not bind the member, how a notice's withdrawal was decided,
// the capital ledger's notes and a seat's end reason read back from the
// database with the message the pages translate, and read in German in a
// German context; what a person wrote (a payment's note, the deciding
// board member) is kept as written. A notice from before the message was
// kept is shown as stored.
func TestStoredRecordsKeepTheirMessage(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		de := i18n.WithLocale(ctx, i18n.NewLocale(i18n.German, time.UTC))
		e := modelstest.NewMEnv(t, db)
		e.Memberships.SetExtraordinaryRights(func(*gorm.DB, string, time.Time) ([]membership.ExtraordinaryRight, error) {
			return []membership.ExtraordinaryRight{{ItemID: "item-67a", AssemblyID: "assembly-2026", Title: "Compulsory second share",
				ResolvedAt: modelstest.Day(2026, 3, 10), Until: modelstest.Day(2026, 4, 10)}}, nil
		})
		ada, m := e.Member(t, "ada@example.org", "Ada Lovelace", 3)
		if err := e.Memberships.RecordPayment(ctx, e.Board1, m.ID, 15000, modelstest.Day(2026, 3, 15), "bank transfer"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Memberships.Organs().Appoint(ctx, e.Board1, membership.AppointInput{Organ: membership.OrganBoard, UserID: ada.UserID,
			TermStart: modelstest.Day(2026, 3, 15), TermEnd: modelstest.Day(2029, 6, 30), Source: membership.SourceElection,
			AssemblyID: "assembly-2026", ItemID: "item-1"}); err != nil {
			t.Fatal(err)
		}
		ordinary, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 0)
		if err != nil {
			t.Fatal(err)
		}
		extra, err := e.Memberships.GiveExtraordinaryNotice(ctx, ada, ada.UserID, "item-67a")
		if err != nil {
			t.Fatal(err)
		}
		bob, bm := e.Member(t, "bob@example.org", "Bob Builder", 1)
		bobs, err := e.Memberships.GiveNotice(ctx, bob, bob.UserID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.RequestNoticeWithdrawal(ctx, bob, bob.UserID, bobs.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.DecideNoticeWithdrawal(ctx, e.Board1, bobs.ID, true); err != nil {
			t.Fatal(err)
		}
		// Ada leaves at the end of the business year: her seat ends and
		// her capital is owed back, then paid.
		e.Clock.Set(time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC))
		if _, err := e.Memberships.ProcessDueNotices(ctx); err != nil {
			t.Fatal(err)
		}
		o := e.Overview(t, ada.UserID)
		if len(o.Refunds) != 1 {
			t.Fatalf("refunds = %+v", o.Refunds)
		}
		refund := o.Refunds[0].ID
		if err := e.Memberships.PayRefund(ctx, e.Board1, refund, modelstest.Day(2027, 1, 1)); err != nil {
			t.Fatal(err)
		}
		o = e.Overview(t, ada.UserID)

		check := func(what, text string, msg, want models.Msg, german string) {
			t.Helper()
			if !reflect.DeepEqual(msg, want) || msg.String() != text {
				t.Errorf("%s: %q with message %#v, want %#v", what, text, msg, want)
			}
			if got := msg.Text(de); got != german {
				t.Errorf("%s in German: %q, want %q", what, got, german)
			}
		}
		notices := map[string]membership.Notice{}
		for _, n := range o.Notices {
			notices[n.ID] = n
		}
		n := notices[extra.ID]
		check("§67a note", n.BylawsNotBinding, n.BylawsNotBindingMsg,
			models.Msgf("The change of the bylaws “%s” resolved on %s does not bind this member, for or against (§67a(2) GenG).", "Compulsory second share", modelstest.Day(2026, 3, 10)),
			"Die Satzungsänderung „Compulsory second share“, beschlossen am 10.3.2026, wirkt weder für noch gegen dieses Mitglied (§ 67a Abs. 2 GenG).")
		n = notices[ordinary.ID]
		check("superseded notice", n.WithdrawalDecidedBy, n.WithdrawalDecidedByMsg,
			models.Msgf("superseded by extraordinary notice %s", extra.ID), "ersetzt durch die außerordentliche Kündigung "+extra.ID)
		bo := e.Overview(t, bob.UserID)
		if len(bo.Notices) != 1 || bo.Membership.ID != bm.ID {
			t.Fatalf("Bob's notices = %+v", bo.Notices)
		}
		check("withdrawal the board decided", bo.Notices[0].WithdrawalDecidedBy, bo.Notices[0].WithdrawalDecidedByMsg,
			models.Verbatim(e.Board1.UserID), e.Board1.UserID)

		if len(o.CapitalLedger) != 2 {
			t.Fatalf("capital ledger = %+v", o.CapitalLedger)
		}
		for _, c := range o.CapitalLedger {
			switch c.Kind {
			case membership.CapitalDeposit:
				check("payment note", c.Note, c.NoteMsg, models.Verbatim("bank transfer"), "bank transfer")
			case membership.CapitalDisbursal:
				check("refund note", c.Note, c.NoteMsg, models.Msgf("refund %s", refund), "Rückzahlung "+refund)
			default:
				t.Errorf("unexpected booking %+v", c)
			}
		}

		if len(o.Seats) != 1 || o.Seats[0].EndReason != membership.EndMembershipEnded {
			t.Fatalf("seats = %+v", o.Seats)
		}
		if got := o.Seats[0].EndReasonMsg().Text(de); got != "Mitgliedschaft beendet" {
			t.Errorf("seat's end reason in German: %q", got)
		}

		// A notice written before the messages were kept is shown as stored.
		if err := db.Gorm.Exec("UPDATE notices SET bylaws_not_binding_msg = '', withdrawal_decided_by_msg = ''").Error; err != nil {
			t.Fatal(err)
		}
		for _, n := range e.Overview(t, ada.UserID).Notices {
			if n.BylawsNotBindingMsg.Format != "" || n.WithdrawalDecidedByMsg.Format != "" {
				t.Errorf("an old row reads back a message: %+v", n)
			}
		}
	})
}
