package membership_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/membership"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

// TestEarlyNoticePeriodAfterFullBusinessYear: §65(3) GenG, where the
// bylaws' period is longer than two years.
func TestEarlyNoticePeriodAfterFullBusinessYear(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, _ := e.Member(t, "ada@example.org", "Ada Lovelace", 1) // admitted 2026-03-15

		// With the seeded 24 months there is no early notice.
		_, err := e.Memberships.GiveEarlyNotice(ctx, ada, ada.UserID, "I moved abroad.")
		if de := modelstest.WantCode(t, err, http.StatusConflict); !strings.Contains(de.Safe, "longer than two years") {
			t.Errorf("message = %q", de.Safe)
		}
		e.SetRule(t, rulebook.RuleNoticePeriodMonths, "60")
		_, err = e.Memberships.GiveEarlyNotice(ctx, ada, ada.UserID, " ")
		modelstest.FieldErr(t, err, "reason")
		// The first full business year is 2027; early notice opens in 2028.
		_, err = e.Memberships.GiveEarlyNotice(ctx, ada, ada.UserID, "I moved abroad.")
		if de := modelstest.WantCode(t, err, http.StatusConflict); !strings.Contains(de.Safe, "2028-01-01") {
			t.Errorf("message = %q", de.Safe)
		}
		// An ordinary notice now would end the membership in 2031.
		ordinary, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !ordinary.EffectiveOn.Equal(modelstest.Day(2031, 12, 31)) {
			t.Errorf("ordinary notice effective %s", ordinary.EffectiveOn)
		}
		e.Clock.Set(time.Date(2028, 2, 1, 9, 0, 0, 0, time.UTC))
		n, err := e.Memberships.GiveEarlyNotice(ctx, ada, ada.UserID, "I lost my job and moved abroad.")
		if err != nil {
			t.Fatal(err)
		}
		if !n.EffectiveOn.Equal(modelstest.Day(2029, 12, 31)) || n.EarlyReason == "" {
			t.Errorf("early notice = %+v, want effective 2029-12-31", n)
		}
		o := e.Overview(t, ada.UserID)
		if open := o.OpenNotices(); len(open) != 1 || open[0].ID != n.ID {
			t.Errorf("open notices after the early one: %+v", open)
		}
		// The ordinary notice records what closed it, as a message.
		for _, x := range o.Notices {
			if want := models.Msgf("superseded by early notice %s", n.ID); x.ID == ordinary.ID &&
				(!reflect.DeepEqual(x.WithdrawalDecidedByMsg, want) || x.WithdrawalDecidedBy != want.String()) {
				t.Errorf("the ordinary notice was closed by %q (%#v), want %#v", x.WithdrawalDecidedBy, x.WithdrawalDecidedByMsg, want)
			}
		}
		// Not twice.
		_, err = e.Memberships.GiveEarlyNotice(ctx, ada, ada.UserID, "again")
		modelstest.WantCode(t, err, http.StatusConflict)
	})
}

// TestPartialNoticeRefusedAboveVMEntitlement: §67b GenG, a partial notice
// may not leave the member's VMs without the entitlement they use.
func TestPartialNoticeRefusedAboveVMEntitlement(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, m := e.Member(t, "ada@example.org", "Ada Lovelace", 3)
		if err := e.Memberships.RecordPayment(ctx, e.Board1, m.ID, 15000, e.Clock.Now(), ""); err != nil {
			t.Fatal(err)
		}
		// Ada's VMs take two shares' worth of vCPUs (1 per share seeded).
		used := rulebook.Entitlement{VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10}
		e.Memberships.SetUsage(func(tx *gorm.DB, userID string) (rulebook.Entitlement, error) {
			if userID == ada.UserID {
				return used, nil
			}
			return rulebook.Entitlement{}, nil
		})
		before := modelstest.Snapshot(t, db)
		_, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 2)
		if msg := modelstest.FieldErr(t, err, "shares"); !strings.Contains(msg, "Shrink or delete VMs first") || !strings.Contains(msg, "2 vCPUs") {
			t.Errorf("message = %q", msg)
		}
		modelstest.SameSnapshot(t, db, before, "after the refused notice")
		if _, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 1); err != nil {
			t.Fatalf("a notice keeping enough entitlement was refused: %v", err)
		}
		// The compulsory holding of the bylaws is kept too.
		e.SetRule(t, rulebook.RuleCompulsoryShares, "2")
		used = rulebook.Entitlement{}
		_, err = e.Memberships.GiveNotice(ctx, ada, ada.UserID, 1)
		modelstest.FieldErr(t, err, "shares")
	})
}

// TestNoticeEndsMembershipDayAfterEndDate: the member keeps every right
// through the end date.
func TestNoticeEndsMembershipDayAfterEndDate(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		e.SetRule(t, rulebook.RuleNoticePeriodMonths, "3")
		ada, _ := e.Member(t, "ada@example.org", "Ada Lovelace", 1)
		n, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 0)
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(n.EffectiveOn.Add(23*time.Hour + 59*time.Minute))
		if k, err := e.Memberships.ProcessDueNotices(ctx); err != nil || k != 0 {
			t.Fatalf("processed %d on the end date (%v)", k, err)
		}
		if o := e.Overview(t, ada.UserID); o.Membership.Status != membership.StatusLeaving {
			t.Errorf("status on the end date = %s", o.Membership.Status)
		}
		e.Clock.Set(n.EffectiveOn.AddDate(0, 0, 1))
		if k, err := e.Memberships.ProcessDueNotices(ctx); err != nil || k != 1 {
			t.Fatalf("processed %d the day after (%v)", k, err)
		}
		if o := e.Overview(t, ada.UserID); o.Membership.Status != membership.StatusFormer || !o.Membership.LeftOn.Equal(n.EffectiveOn) {
			t.Errorf("after the end date: %s, left %v", o.Membership.Status, o.Membership.LeftOn)
		}
	})
}
