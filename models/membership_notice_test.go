package models_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
)

func TestNoticeEffectiveDate(t *testing.T) {
	jan := models.RuleParams{BusinessYearStartMonth: 1, BusinessYearStartDay: 1}
	jul := models.RuleParams{BusinessYearStartMonth: 7, BusinessYearStartDay: 1}
	with := func(p models.RuleParams, months int) models.RuleParams { p.NoticePeriodMonths = months; return p }
	cases := []struct {
		name  string
		today time.Time
		p     models.RuleParams
		want  time.Time
	}{
		{"jan, 3 months, early in the year", day(2026, 3, 15), with(jan, 3), day(2026, 12, 31)},
		{"jan, 3 months, last day in time", day(2026, 9, 30), with(jan, 3), day(2026, 12, 31)},
		{"jan, 3 months, one day late", day(2026, 10, 1), with(jan, 3), day(2027, 12, 31)},
		{"jan, 24 months", day(2026, 3, 15), with(jan, 24), day(2028, 12, 31)},
		{"jan, 24 months, exactly on the boundary", day(2026, 12, 31), with(jan, 24), day(2028, 12, 31)},
		{"jan, 24 months, first day of the year", day(2027, 1, 1), with(jan, 24), day(2029, 12, 31)},
		{"jul, 3 months, exactly on the boundary", day(2026, 3, 31), with(jul, 3), day(2026, 6, 30)},
		{"jul, 3 months, one day late", day(2026, 4, 1), with(jul, 3), day(2027, 6, 30)},
		{"jul, 24 months", day(2026, 3, 15), with(jul, 24), day(2028, 6, 30)},
		{"jul, 24 months, on the business year end", day(2026, 6, 30), with(jul, 24), day(2028, 6, 30)},
		{"jul, 24 months, first day of the business year", day(2026, 7, 1), with(jul, 24), day(2029, 6, 30)},
		{"month end clamps (30 Nov + 3 months = 28 Feb)", day(2026, 11, 30), with(models.RuleParams{BusinessYearStartMonth: 3, BusinessYearStartDay: 1}, 3), day(2027, 2, 28)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := models.NoticeEffectiveDate(c.today, c.p); !got.Equal(c.want) {
				t.Errorf("NoticeEffectiveDate(%s) = %s, want %s", c.today.Format(time.DateOnly), got.Format(time.DateOnly), c.want.Format(time.DateOnly))
			}
		})
	}
}

func TestNoticeBoundsAndWithdraw(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newMEnv(t, db)
		ada, m := e.member(t, "ada@example.org", "Ada", 3)

		before := snapshot(t, db)
		_, err := e.ms.GiveNotice(ctx, ada, ada.UserID, 4)
		fieldErr(t, err, "shares")
		_, err = e.ms.GiveNotice(ctx, ada, ada.UserID, 3)
		if msg := fieldErr(t, err, "shares"); !strings.Contains(msg, "whole membership instead") {
			t.Errorf("message = %q", msg)
		}
		sameSnapshot(t, db, before, "after refused notices")

		partial, err := e.ms.GiveNotice(ctx, ada, ada.UserID, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !partial.EffectiveOn.Equal(day(2028, 12, 31)) {
			t.Errorf("effective on %s", partial.EffectiveOn)
		}
		// Only one share is left that is not under notice, and it is the minimum.
		_, err = e.ms.GiveNotice(ctx, ada, ada.UserID, 1)
		fieldErr(t, err, "shares")

		whole, err := e.ms.GiveNotice(ctx, ada, ada.UserID, 0)
		if err != nil {
			t.Fatal(err)
		}
		o := e.overview(t, ada.UserID)
		if o.Membership.Status != models.StatusLeaving || len(o.OpenNotices()) != 2 || o.SharesUnderNotice != 2 {
			t.Errorf("after whole notice: %s, %d open notices", o.Membership.Status, len(o.OpenNotices()))
		}
		_, err = e.ms.GiveNotice(ctx, ada, ada.UserID, 0)
		wantCode(t, err, http.StatusConflict)
		if n := mails(t, db, "ada@example.org"); n != 4 {
			t.Errorf("mails = %d, want 4 (received, admitted, two notices)", n)
		}

		// Someone else cannot withdraw it; ada can, and is a member again.
		bob := e.user(t, "bob@example.org")
		wantCode(t, e.ms.WithdrawNotice(ctx, bob, bob.UserID, whole.ID), http.StatusNotFound)
		if err := e.ms.WithdrawNotice(ctx, ada, ada.UserID, whole.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.ms.WithdrawNotice(ctx, ada, ada.UserID, whole.ID), http.StatusConflict)
		o = e.overview(t, ada.UserID)
		if o.Membership.Status != models.StatusMember || len(o.OpenNotices()) != 1 || o.Notices[0].Status() != "withdrawn" {
			t.Errorf("after withdrawal: %s, notices %+v", o.Membership.Status, o.Notices)
		}
		if n := count(t, db, "audit_events", "action = 'membership.notice_withdraw' AND target_id = ?", m.ID); n != 1 {
			t.Errorf("withdraw audits = %d", n)
		}
		if !o.NoticePreview.Equal(day(2028, 12, 31)) {
			t.Errorf("preview = %s", o.NoticePreview)
		}
	})
}

func TestProcessDueNotices(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newMEnv(t, db)
		e.setRule(t, models.RuleNoticePeriodMonths, "3")
		ada, m := e.member(t, "ada@example.org", "Ada", 3)
		if err := e.ms.RecordPayment(ctx, e.board1, m.ID, 15000, day(2026, 3, 15), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ms.GiveNotice(ctx, ada, ada.UserID, 1); err != nil {
			t.Fatal(err)
		}
		if n, err := e.ms.ProcessDueNotices(ctx); err != nil || n != 0 {
			t.Fatalf("processed %d before the date (%v)", n, err)
		}

		// The partial notice takes effect on 31 December.
		e.clock.Set(time.Date(2026, 12, 31, 8, 0, 0, 0, time.UTC))
		if n, err := e.ms.ProcessDueNotices(ctx); err != nil || n != 1 {
			t.Fatalf("processed %d, %v; want 1", n, err)
		}
		o := e.overview(t, ada.UserID)
		if o.SharesSubscribed != 2 || len(o.Refunds) != 1 || o.Refunds[0].AmountCents != 5000 || !o.Refunds[0].DueOn.Equal(day(2027, 6, 30)) {
			t.Errorf("after partial notice: %d shares, refunds %+v", o.SharesSubscribed, o.Refunds)
		}

		// The whole membership ends a year later.
		if _, err := e.ms.GiveNotice(ctx, ada, ada.UserID, 0); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(time.Date(2028, 1, 2, 8, 0, 0, 0, time.UTC))
		jobs := mails(t, db, "ada@example.org")
		if n, err := e.ms.ProcessDueNotices(ctx); err != nil || n != 1 {
			t.Fatalf("processed %d, %v; want 1", n, err)
		}
		o = e.overview(t, ada.UserID)
		if o.Membership.Status != models.StatusFormer || !o.Membership.LeftOn.Equal(day(2027, 12, 31)) || o.Membership.LeaveReason != "notice" {
			t.Errorf("after leaving: %s %v %q", o.Membership.Status, o.Membership.LeftOn, o.Membership.LeaveReason)
		}
		if o.SharesSubscribed != 0 || o.Entitlement != (models.Entitlement{}) {
			t.Errorf("former member keeps %d shares, %+v", o.SharesSubscribed, o.Entitlement)
		}
		if len(o.Refunds) != 2 || o.Refunds[1].AmountCents != 10000 {
			t.Errorf("refunds = %+v", o.Refunds)
		}
		u, _ := models.NewAccounts(db).Get(ctx, ada.UserID)
		if u.Has(models.RoleMember) {
			t.Error("member role not removed")
		}
		if n := mails(t, db, "ada@example.org"); n != jobs+1 {
			t.Errorf("mails after leaving = %d, want %d", n, jobs+1)
		}
		if n := count(t, db, "river_job", "CAST(args AS TEXT) LIKE ?", "%membership has ended%"); n != 1 {
			t.Errorf("membership-ended mails = %d", n)
		}

		// Idempotent.
		before := snapshot(t, db)
		if n, err := e.ms.ProcessDueNotices(ctx); err != nil || n != 0 {
			t.Fatalf("second run processed %d, %v", n, err)
		}
		sameSnapshot(t, db, before, "after second run")

		// Paying the refund books the disbursal.
		if err := e.ms.PayRefund(ctx, e.board1, o.Refunds[1].ID, day(2028, 1, 2)); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.ms.PayRefund(ctx, e.board1, o.Refunds[1].ID, day(2028, 1, 2)), http.StatusConflict)
		if got := e.overview(t, ada.UserID).CapitalPaidCents; got != 5000 {
			t.Errorf("capital after paying one refund = %d", got)
		}
	})
}
