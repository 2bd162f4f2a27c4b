package membership_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func TestNoticeEffectiveDate(t *testing.T) {
	jan := rulebook.RuleParams{BusinessYearStartMonth: 1, BusinessYearStartDay: 1}
	jul := rulebook.RuleParams{BusinessYearStartMonth: 7, BusinessYearStartDay: 1}
	with := func(p rulebook.RuleParams, months int) rulebook.RuleParams { p.NoticePeriodMonths = months; return p }
	cases := []struct {
		name  string
		today time.Time
		p     rulebook.RuleParams
		want  time.Time
	}{
		{"jan, 3 months, early in the year", modelstest.Day(2026, 3, 15), with(jan, 3), modelstest.Day(2026, 12, 31)},
		{"jan, 3 months, last day in time", modelstest.Day(2026, 9, 30), with(jan, 3), modelstest.Day(2026, 12, 31)},
		{"jan, 3 months, one day late", modelstest.Day(2026, 10, 1), with(jan, 3), modelstest.Day(2027, 12, 31)},
		{"jan, 24 months", modelstest.Day(2026, 3, 15), with(jan, 24), modelstest.Day(2028, 12, 31)},
		{"jan, 24 months, exactly on the boundary", modelstest.Day(2026, 12, 31), with(jan, 24), modelstest.Day(2028, 12, 31)},
		{"jan, 24 months, first day of the year", modelstest.Day(2027, 1, 1), with(jan, 24), modelstest.Day(2029, 12, 31)},
		{"jul, 3 months, exactly on the boundary", modelstest.Day(2026, 3, 31), with(jul, 3), modelstest.Day(2026, 6, 30)},
		{"jul, 3 months, one day late", modelstest.Day(2026, 4, 1), with(jul, 3), modelstest.Day(2027, 6, 30)},
		{"jul, 24 months", modelstest.Day(2026, 3, 15), with(jul, 24), modelstest.Day(2028, 6, 30)},
		{"jul, 24 months, on the business year end", modelstest.Day(2026, 6, 30), with(jul, 24), modelstest.Day(2028, 6, 30)},
		{"jul, 24 months, first day of the business year", modelstest.Day(2026, 7, 1), with(jul, 24), modelstest.Day(2029, 6, 30)},
		{"month end clamps (30 Nov + 3 months = 28 Feb)", modelstest.Day(2026, 11, 30), with(rulebook.RuleParams{BusinessYearStartMonth: 3, BusinessYearStartDay: 1}, 3), modelstest.Day(2027, 2, 28)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := membership.NoticeEffectiveDate(c.today, c.p); !got.Equal(c.want) {
				t.Errorf("NoticeEffectiveDate(%s) = %s, want %s", c.today.Format(time.DateOnly), got.Format(time.DateOnly), c.want.Format(time.DateOnly))
			}
		})
	}
}

func TestNoticeBoundsAndWithdraw(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, m := e.Member(t, "ada@example.org", "Ada", 3)

		before := modelstest.Snapshot(t, db)
		_, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 4)
		modelstest.FieldErr(t, err, "shares")
		_, err = e.Memberships.GiveNotice(ctx, ada, ada.UserID, 3)
		if msg := modelstest.FieldErr(t, err, "shares"); !strings.Contains(msg, "whole membership instead") {
			t.Errorf("message = %q", msg)
		}
		modelstest.SameSnapshot(t, db, before, "after refused notices")

		partial, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !partial.EffectiveOn.Equal(modelstest.Day(2028, 12, 31)) {
			t.Errorf("effective on %s", partial.EffectiveOn)
		}
		// Only one share is left that is not under notice, and it is the minimum.
		_, err = e.Memberships.GiveNotice(ctx, ada, ada.UserID, 1)
		modelstest.FieldErr(t, err, "shares")

		whole, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 0)
		if err != nil {
			t.Fatal(err)
		}
		o := e.Overview(t, ada.UserID)
		if o.Membership.Status != membership.StatusLeaving || len(o.OpenNotices()) != 2 || o.SharesUnderNotice != 2 {
			t.Errorf("after whole notice: %s, %d open notices", o.Membership.Status, len(o.OpenNotices()))
		}
		_, err = e.Memberships.GiveNotice(ctx, ada, ada.UserID, 0)
		modelstest.WantCode(t, err, http.StatusConflict)
		if n := modelstest.Mails(t, db, "ada@example.org"); n != 4 {
			t.Errorf("mails = %d, want 4 (received, admitted, two notices)", n)
		}

		// Someone else cannot ask to withdraw it; ada can, and the board
		// decides (§65 GenG: a notice given binds the member).
		bob := e.User(t, "bob@example.org")
		modelstest.WantCode(t, e.Memberships.RequestNoticeWithdrawal(ctx, bob, bob.UserID, whole.ID), http.StatusNotFound)
		modelstest.WantCode(t, e.Memberships.DecideNoticeWithdrawal(ctx, e.Board1, whole.ID, true), http.StatusConflict) // nothing asked
		if err := e.Memberships.RequestNoticeWithdrawal(ctx, ada, ada.UserID, whole.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.RequestNoticeWithdrawal(ctx, ada, ada.UserID, whole.ID), http.StatusConflict)
		if o := e.Overview(t, ada.UserID); o.Membership.Status != membership.StatusLeaving {
			t.Errorf("a request alone withdrew the notice: %s", o.Membership.Status)
		}
		modelstest.WantCode(t, e.Memberships.DecideNoticeWithdrawal(ctx, ada, whole.ID, true), http.StatusForbidden)
		if err := e.Memberships.DecideNoticeWithdrawal(ctx, e.Board1, whole.ID, false); err != nil {
			t.Fatal(err)
		}
		if o := e.Overview(t, ada.UserID); o.Membership.Status != membership.StatusLeaving || o.Notices[0].WithdrawalRefusedAt == nil {
			t.Errorf("after the refusal: %s, %+v", o.Membership.Status, o.Notices[0])
		}
		if err := e.Memberships.RequestNoticeWithdrawal(ctx, ada, ada.UserID, whole.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.DecideNoticeWithdrawal(ctx, e.Board2, whole.ID, true); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.RequestNoticeWithdrawal(ctx, ada, ada.UserID, whole.ID), http.StatusConflict)
		o = e.Overview(t, ada.UserID)
		if o.Membership.Status != membership.StatusMember || len(o.OpenNotices()) != 1 || o.Notices[0].Status() != "withdrawn" {
			t.Errorf("after withdrawal: %s, notices %+v", o.Membership.Status, o.Notices)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = 'membership.notice_withdraw' AND target_id = ?", m.ID); n != 1 {
			t.Errorf("withdraw audits = %d", n)
		}
		if !o.NoticePreview.Equal(modelstest.Day(2028, 12, 31)) {
			t.Errorf("preview = %s", o.NoticePreview)
		}
	})
}

func TestProcessDueNotices(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		e.SetRule(t, rulebook.RuleNoticePeriodMonths, "3")
		ada, m := e.Member(t, "ada@example.org", "Ada", 3)
		if err := e.Memberships.RecordPayment(ctx, e.Board1, m.ID, 15000, modelstest.Day(2026, 3, 15), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 1); err != nil {
			t.Fatal(err)
		}
		if n, err := e.Memberships.ProcessDueNotices(ctx); err != nil || n != 0 {
			t.Fatalf("processed %d before the date (%v)", n, err)
		}

		// The partial notice takes effect on 31 December: the member holds
		// the shares through that day, and loses them the day after.
		e.Clock.Set(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC))
		if n, err := e.Memberships.ProcessDueNotices(ctx); err != nil || n != 0 {
			t.Fatalf("processed %d on the end date itself (%v)", n, err)
		}
		e.Clock.Set(time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC))
		if n, err := e.Memberships.ProcessDueNotices(ctx); err != nil || n != 1 {
			t.Fatalf("processed %d, %v; want 1", n, err)
		}
		o := e.Overview(t, ada.UserID)
		if o.SharesSubscribed != 2 || len(o.Refunds) != 1 || o.Refunds[0].AmountCents != 5000 || !o.Refunds[0].DueOn.Equal(modelstest.Day(2027, 6, 30)) {
			t.Errorf("after partial notice: %d shares, refunds %+v", o.SharesSubscribed, o.Refunds)
		}

		// The whole membership ends a year later.
		if _, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 0); err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(time.Date(2028, 1, 2, 8, 0, 0, 0, time.UTC))
		jobs := modelstest.Mails(t, db, "ada@example.org")
		if n, err := e.Memberships.ProcessDueNotices(ctx); err != nil || n != 1 {
			t.Fatalf("processed %d, %v; want 1", n, err)
		}
		o = e.Overview(t, ada.UserID)
		if o.Membership.Status != membership.StatusFormer || !o.Membership.LeftOn.Equal(modelstest.Day(2027, 12, 31)) || o.Membership.LeaveReason != "notice" {
			t.Errorf("after leaving: %s %v %q", o.Membership.Status, o.Membership.LeftOn, o.Membership.LeaveReason)
		}
		if o.SharesSubscribed != 0 || o.Entitlement != (rulebook.Entitlement{}) {
			t.Errorf("former member keeps %d shares, %+v", o.SharesSubscribed, o.Entitlement)
		}
		if len(o.Refunds) != 2 || o.Refunds[1].AmountCents != 10000 {
			t.Errorf("refunds = %+v", o.Refunds)
		}
		u, _ := account.NewAccounts(db).Get(ctx, ada.UserID)
		if u.Has(account.RoleMember) {
			t.Error("member role not removed")
		}
		if n := modelstest.Mails(t, db, "ada@example.org"); n != jobs+1 {
			t.Errorf("mails after leaving = %d, want %d", n, jobs+1)
		}
		if n := modelstest.Count(t, db, "river_job", "CAST(args AS TEXT) LIKE ?", "%membership has ended%"); n != 1 {
			t.Errorf("membership-ended mails = %d", n)
		}

		// Idempotent.
		before := modelstest.Snapshot(t, db)
		if n, err := e.Memberships.ProcessDueNotices(ctx); err != nil || n != 0 {
			t.Fatalf("second run processed %d, %v", n, err)
		}
		modelstest.SameSnapshot(t, db, before, "after second run")

		// Paying the refund books the disbursal.
		if err := e.Memberships.PayRefund(ctx, e.Board1, o.Refunds[1].ID, modelstest.Day(2028, 1, 2)); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.PayRefund(ctx, e.Board1, o.Refunds[1].ID, modelstest.Day(2028, 1, 2)), http.StatusConflict)
		if got := e.Overview(t, ada.UserID).CapitalPaidCents; got != 5000 {
			t.Errorf("capital after paying one refund = %d", got)
		}
	})
}
