package membership_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/models/modelstest"
)

func TestMemberChangesAndRegister(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, a := e.Member(t, "ada@example.org", "Ada Lovelace", 2)
		_, _ = e.Member(t, "eve@example.org", "=HYPERLINK(\"http://evil\")", 1)

		// Shares up to the maximum.
		_, err := e.Memberships.SubscribeShares(ctx, ada, ada.UserID, 99, true)
		modelstest.FieldErr(t, err, "shares")
		if err := e.Memberships.RecordPayment(ctx, e.Board1, a.ID, 10000, modelstest.Day(2026, 3, 15), ""); err != nil {
			t.Fatal(err)
		}
		sub, err := e.Memberships.SubscribeShares(ctx, ada, ada.UserID, 3, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.AdmitShares(ctx, e.Board1, sub.ID); err != nil {
			t.Fatal(err)
		}
		// A dated address change.
		modelstest.FieldErr(t, e.Memberships.UpdateAddress(ctx, ada, ada.UserID, membership.AddressInput{Street: "", PostalCode: "1", City: "X", Country: "DE"}), "street")
		e.Clock.Set(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
		if err := e.Memberships.UpdateAddress(ctx, ada, ada.UserID, membership.AddressInput{Street: "Neue Straße 5", PostalCode: "20095", City: "Hamburg", Country: "de"}); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'membership.address_update' AND detail LIKE '%Hamburg%'"); n != 0 {
			t.Error("the audit log holds the address")
		}

		reg, err := e.Memberships.Register(ctx, membership.RegisterFilter{Query: "lovelace"})
		if err != nil {
			t.Fatal(err)
		}
		if len(reg) != 1 || reg[0].MemberNumber != 1 || reg[0].Shares != 5 || reg[0].City != "Hamburg" || len(reg[0].History) != 4 {
			t.Fatalf("register = %+v", reg)
		}
		last := reg[0].History[3]
		if last.Kind != membership.EventAddressChanged || !last.EffectiveDate.Equal(modelstest.Day(2026, 5, 1)) {
			t.Errorf("address change = %+v", last)
		}
		if reg, _ := e.Memberships.Register(ctx, membership.RegisterFilter{Query: "2"}); len(reg) != 1 || reg[0].MemberNumber != 2 {
			t.Errorf("by number: %+v", reg)
		}
		if reg, _ := e.Memberships.Register(ctx, membership.RegisterFilter{Status: "former"}); len(reg) != 0 {
			t.Errorf("by status: %+v", reg)
		}

		// An exclusion ends the membership at the end of the business year.
		if err := e.Memberships.RecordPayment(ctx, e.Board1, a.ID, 5000, modelstest.Day(2026, 5, 1), ""); err != nil {
			t.Fatal(err)
		}
		e.ExcludeByLetter(t, a.ID)
		e.Clock.Set(time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC))
		if n, err := e.Memberships.ProcessDueExclusions(ctx); err != nil || n != 1 {
			t.Fatalf("processed %d exclusions (%v)", n, err)
		}
		o := e.Overview(t, ada.UserID)
		if o.Membership.Status != membership.StatusExcluded || !o.Membership.LeftOn.Equal(modelstest.Day(2026, 12, 31)) ||
			len(o.Refunds) != 1 || o.Refunds[0].AmountCents != 15000 || o.Membership.LeaveReason != "exclusion" {
			t.Errorf("after exclusion: %+v refunds %+v", o.Membership, o.Refunds)
		}
		if u, _ := account.NewAccounts(db).Get(ctx, ada.UserID); u.Has(account.RoleMember) {
			t.Error("excluded member keeps the member role")
		}

		// The CSV: header, one row per member, formulas defused.
		var buf bytes.Buffer
		if err := e.Memberships.WriteRegisterCSV(ctx, membership.RegisterFilter{}, &buf); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 || rows[0][0] != "member_number" || rows[1][2] != "Ada Lovelace" || rows[1][1] != "excluded" {
			t.Fatalf("csv = %q", rows)
		}
		if rows[2][2] != `'=HYPERLINK("http://evil")` {
			t.Errorf("formula not defused: %q", rows[2][2])
		}
		for _, row := range rows {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
					t.Errorf("cell starts with a formula character: %q", cell)
				}
			}
		}

		// Three years from the end of the calendar year of leaving (§30(3)
		// GenG), and not while the refund is unpaid.
		e.Clock.Set(time.Date(2029, 12, 31, 23, 0, 0, 0, time.UTC))
		if n, err := e.Memberships.PurgeExpired(ctx); err != nil || n != 0 {
			t.Fatalf("purged %d on the last day of retention (%v)", n, err)
		}
		e.Clock.Set(time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC))
		if n, err := e.Memberships.PurgeExpired(ctx); err != nil || n != 0 {
			t.Fatalf("purged %d with the refund unpaid (%v)", n, err)
		}
		if err := e.Memberships.PayRefund(ctx, e.Board1, o.Refunds[0].ID, modelstest.Day(2027, 6, 30)); err != nil {
			t.Fatal(err)
		}
		if n, err := e.Memberships.PurgeExpired(ctx); err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want 1", n, err)
		}
		for _, secret := range []string{"Lovelace", "Hamburg", "reminders went unanswered", "Heard by phone"} {
			if where := findAnywhere(t, db, secret); where != "" && where != "audit_events" && where != "river_job" {
				t.Errorf("%q still in %s after purge", secret, where)
			}
		}
		if n, _ := e.Memberships.PurgeExpired(ctx); n != 0 {
			t.Errorf("second purge erased %d", n)
		}
	})
}

func TestExport(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, a := e.Member(t, "ada@example.org", "Ada Lovelace", 2)
		_, b := e.Member(t, "bob@example.org", "Bob Builder", 1)
		if err := e.Memberships.RecordPayment(ctx, e.Board1, a.ID, 10000, modelstest.Day(2026, 3, 15), ""); err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.RecordPayment(ctx, e.Board1, b.ID, 5000, modelstest.Day(2026, 3, 15), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 1); err != nil {
			t.Fatal(err)
		}
		data, err := e.Memberships.Export(ctx, ada.UserID)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		s := string(raw)
		for _, want := range []string{"ada@example.org", "Ada Lovelace", "DE89370400440532013000", `"amount_cents":10000`,
			`"kind":"subscription"`, `"member"`, "I have read the bylaws, version 2026-1, and accept them.", `"effective_on"`, `"kind":"admitted"`} {
			if !strings.Contains(s, want) {
				t.Errorf("export lacks %s", want)
			}
		}
		for _, other := range []string{"bob@example.org", "Bob Builder", b.ID, "password", `"x"`} {
			if strings.Contains(s, other) {
				t.Errorf("export contains %s", other)
			}
		}
	})
}
