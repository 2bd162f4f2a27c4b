package membership_test

import (
	"context"
	"fmt"
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

func reasons(t *testing.T, e *modelstest.MEnv) []string {
	t.Helper()
	p, err := e.Rules.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p.Reasons()
}

func TestExclusionRequiresHearing(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, a := e.Member(t, "ada@example.org", "Ada Lovelace", 1)
		bob, b := e.Member(t, "bob@example.org", "Bob Builder", 1)
		why := reasons(t, e)[1]

		// The reason must be one the bylaws list, and the facts are needed.
		_, err := e.Memberships.OpenExclusion(ctx, e.Board1, a.ID, membership.ExclusionInput{Reason: "We do not like her", Facts: "x"})
		modelstest.FieldErr(t, err, "reason")
		_, err = e.Memberships.OpenExclusion(ctx, e.Board1, a.ID, membership.ExclusionInput{Reason: why})
		modelstest.FieldErr(t, err, "facts")
		_, err = e.Memberships.OpenExclusion(ctx, bob, a.ID, membership.ExclusionInput{Reason: why, Facts: "x"})
		modelstest.WantCode(t, err, http.StatusForbidden)
		if n := modelstest.Count(t, db, "exclusions", ""); n != 0 {
			t.Fatalf("refused proceedings stored: %d", n)
		}

		x, err := e.Memberships.OpenExclusion(ctx, e.Board1, a.ID, membership.ExclusionInput{Reason: why, Facts: "Posted the members' addresses on 2026-03-01."})
		if err != nil {
			t.Fatal(err)
		}
		if !x.HearingDeadline.Equal(modelstest.Day(2026, 3, 29)) || x.Body != membership.BodyBoard {
			t.Errorf("proceedings = %+v, want a hearing until 2026-03-29 and the board deciding", x)
		}
		_, err = e.Memberships.OpenExclusion(ctx, e.Board1, a.ID, membership.ExclusionInput{Reason: why, Facts: "again"})
		modelstest.WantCode(t, err, http.StatusConflict)
		if n := modelstest.Mails(t, db, "ada@example.org"); n != 3 { // received, admitted, invited to be heard
			t.Errorf("mails to ada = %d, want 3", n)
		}

		// No decision, and no letter, before the hearing.
		decide := membership.DecisionInput{Exclude: true, DecidedOn: e.Clock.Now()}
		if de := modelstest.WantCode(t, e.Memberships.DecideExclusion(ctx, e.Board2, x.ID, decide), http.StatusConflict); !strings.Contains(de.Safe, "heard") {
			t.Errorf("message = %q", de.Safe)
		}
		modelstest.WantCode(t, e.Memberships.RecordExclusionLetter(ctx, e.Board1, x.ID, e.Clock.Now()), http.StatusConflict)

		// The member answers; only once, and only they or the board.
		modelstest.WantCode(t, e.Memberships.RecordStatement(ctx, bob, x.ID, "She is innocent."), http.StatusNotFound)
		modelstest.FieldErr(t, e.Memberships.RecordStatement(ctx, ada, x.ID, "  "), "statement")
		e.Clock.Set(time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC))
		if err := e.Memberships.RecordStatement(ctx, ada, x.ID, "The list was already public."); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.RecordStatement(ctx, ada, x.ID, "And another thing."), http.StatusConflict)
		// A decision dated before the statement is still one without a hearing.
		modelstest.WantCode(t, e.Memberships.DecideExclusion(ctx, e.Board2, x.ID, membership.DecisionInput{Exclude: true, DecidedOn: modelstest.Day(2026, 3, 19)}), http.StatusConflict)
		modelstest.WantCode(t, e.Memberships.DecideExclusion(ctx, bob, x.ID, decide), http.StatusForbidden)
		modelstest.FieldErr(t, e.Memberships.DecideExclusion(ctx, e.Board2, x.ID, membership.DecisionInput{Exclude: true, DecidedOn: modelstest.Day(2026, 4, 1)}), "decided_on")
		if err := e.Memberships.DecideExclusion(ctx, e.Board2, x.ID, membership.DecisionInput{Exclude: true, DecidedOn: e.Clock.Now(), Reference: "Board meeting 2026/7"}); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.DecideExclusion(ctx, e.Board2, x.ID, decide), http.StatusConflict)
		modelstest.WantCode(t, e.Memberships.RecordStatement(ctx, e.Board1, x.ID, "late"), http.StatusConflict)

		// Without a statement the deadline must pass: on its last day the
		// member may still answer.
		y, err := e.Memberships.OpenExclusion(ctx, e.Board1, b.ID, membership.ExclusionInput{Reason: why, Facts: "Spammed the forum."})
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(y.HearingDeadline.Add(20 * time.Hour))
		modelstest.WantCode(t, e.Memberships.DecideExclusion(ctx, e.Board1, y.ID, membership.DecisionInput{Exclude: true, DecidedOn: e.Clock.Now()}), http.StatusConflict)
		e.Clock.Set(y.HearingDeadline.Add(30 * time.Hour))
		modelstest.WantCode(t, e.Memberships.RecordStatement(ctx, bob, y.ID, "too late"), http.StatusConflict)
		// The excluded member cannot decide on themselves, nor can a non-board member.
		modelstest.WantCode(t, e.Memberships.DecideExclusion(ctx, ada, y.ID, membership.DecisionInput{DecidedOn: e.Clock.Now()}), http.StatusForbidden)
		if err := e.Memberships.DecideExclusion(ctx, e.Board1, y.ID, membership.DecisionInput{Exclude: false, DecidedOn: e.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		// Dismissed: closed, the member stays, new proceedings may follow.
		o := e.Overview(t, bob.UserID)
		if o.Membership.Status != membership.StatusMember || o.Exclusion == nil || o.Exclusion.Stage() != "dismissed" {
			t.Errorf("after dismissal: %s, %+v", o.Membership.Status, o.Exclusion)
		}
		modelstest.WantCode(t, e.Memberships.RecordExclusionLetter(ctx, e.Board1, y.ID, e.Clock.Now()), http.StatusConflict)
		if _, err := e.Memberships.OpenExclusion(ctx, e.Board1, b.ID, membership.ExclusionInput{Reason: why, Facts: "Again."}); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "audit_events", "action LIKE 'membership.exclusion_%'"); n != 6 {
			t.Errorf("exclusion audits = %d, want 6 (3 opened, 1 statement, 2 decisions)", n)
		}
	})
}

func TestExclusionEndsAtBusinessYearEnd(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, a := e.Member(t, "ada@example.org", "Ada Lovelace", 2)
		if err := e.Memberships.RecordPayment(ctx, e.Board1, a.ID, 10000, modelstest.Day(2026, 3, 15), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Memberships.Organs().Appoint(ctx, e.Board1, election(membership.OrganBoard, ada.UserID, e.Clock.Now(), modelstest.Day(2029, 6, 30))); err != nil {
			t.Fatal(err)
		}
		x, err := e.Memberships.OpenExclusion(ctx, e.Board1, a.ID, membership.ExclusionInput{Reason: reasons(t, e)[0], Facts: "Nothing paid since 2026-03-15."})
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)) // the deadline passed unanswered
		if err := e.Memberships.DecideExclusion(ctx, e.Board2, x.ID, membership.DecisionInput{Exclude: true, DecidedOn: modelstest.Day(2026, 3, 30)}); err != nil {
			t.Fatal(err)
		}
		// Deciding is not sending: Ada keeps her rights until the letter.
		if got := roles(t, db, ada.UserID); got[account.RoleBoard] == "" {
			t.Errorf("board seat lost before the letter: %v", got)
		}
		modelstest.FieldErr(t, e.Memberships.RecordExclusionLetter(ctx, e.Board1, x.ID, modelstest.Day(2026, 3, 29)), "sent_on")
		modelstest.FieldErr(t, e.Memberships.RecordExclusionLetter(ctx, e.Board1, x.ID, modelstest.Day(2026, 4, 2)), "sent_on")
		modelstest.WantCode(t, e.Memberships.RecordExclusionLetter(ctx, ada, x.ID, modelstest.Day(2026, 3, 31)), http.StatusForbidden)
		if err := e.Memberships.RecordExclusionLetter(ctx, e.Board1, x.ID, modelstest.Day(2026, 3, 31)); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, e.Memberships.RecordExclusionLetter(ctx, e.Board1, x.ID, modelstest.Day(2026, 3, 31)), http.StatusConflict)

		// From the letter: no attendance (status), no seat; still a member.
		o := e.Overview(t, ada.UserID)
		if o.Membership.Status != membership.StatusExcluding || o.Membership.LeftOn != nil ||
			o.Exclusion.EffectiveOn == nil || !o.Exclusion.EffectiveOn.Equal(modelstest.Day(2026, 12, 31)) {
			t.Fatalf("after the letter: %+v / %+v", o.Membership, o.Exclusion)
		}
		got := roles(t, db, ada.UserID)
		if got[account.RoleBoard] != "" || got[account.RoleMember] == "" {
			t.Errorf("roles after the letter = %v, want member without board", got)
		}
		if len(o.Seats) != 1 || o.Seats[0].EndedOn == nil || !o.Seats[0].EndedOn.Equal(modelstest.Day(2026, 3, 30)) || o.Seats[0].EndReason != membership.EndExclusionLetter {
			t.Errorf("board seat after the letter = %+v", o.Seats)
		}
		_, err = e.Memberships.Organs().Appoint(ctx, e.Board1, election(membership.OrganSupervisoryBoard, ada.UserID, e.Clock.Now(), modelstest.Day(2029, 6, 30)))
		modelstest.FieldErr(t, err, "user")
		_, err = e.Memberships.GiveNotice(ctx, ada, ada.UserID, 0)
		modelstest.WantCode(t, err, http.StatusConflict)

		// The membership ends with the business year, not a day earlier.
		e.Clock.Set(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC))
		if n, err := e.Memberships.ProcessDueExclusions(ctx); err != nil || n != 0 {
			t.Fatalf("processed %d on the last day of the business year (%v)", n, err)
		}
		e.Clock.Set(time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC))
		if n, err := e.Memberships.ProcessDueExclusions(ctx); err != nil || n != 1 {
			t.Fatalf("processed %d (%v), want 1", n, err)
		}
		if n, _ := e.Memberships.ProcessDueExclusions(ctx); n != 0 {
			t.Errorf("second run processed %d", n)
		}
		o = e.Overview(t, ada.UserID)
		if o.Membership.Status != membership.StatusExcluded || !o.Membership.LeftOn.Equal(modelstest.Day(2026, 12, 31)) {
			t.Errorf("after the year end: %s left %v", o.Membership.Status, o.Membership.LeftOn)
		}
		// The refund follows from the end of the membership (§73(2) GenG).
		if len(o.Refunds) != 1 || o.Refunds[0].AmountCents != 10000 || !o.Refunds[0].DueOn.Equal(modelstest.Day(2027, 6, 30)) {
			t.Errorf("refunds = %+v", o.Refunds)
		}
		if got := roles(t, db, ada.UserID); len(got) != 0 {
			t.Errorf("roles after the exclusion = %v", got)
		}
		kinds := []string{}
		for _, h := range o.History {
			kinds = append(kinds, h.Kind+"@"+h.EffectiveDate.Format("2006-01-02"))
		}
		if s := fmt.Sprint(kinds); !strings.Contains(s, "exclusion_letter@2026-03-31") || !strings.Contains(s, "excluded@2026-12-31") {
			t.Errorf("register history = %s", s)
		}
	})
}

func TestExclusionBusinessYearFollowsBylaws(t *testing.T) {
	p := rulebook.RuleParams{BusinessYearStartMonth: 7, BusinessYearStartDay: 1}
	for _, c := range []struct{ day, want time.Time }{
		{modelstest.Day(2026, 3, 31), modelstest.Day(2026, 6, 30)},
		{modelstest.Day(2026, 6, 30), modelstest.Day(2026, 6, 30)},
		{modelstest.Day(2026, 7, 1), modelstest.Day(2027, 6, 30)},
	} {
		if got := membership.BusinessYearEnd(c.day, p); !got.Equal(c.want) {
			t.Errorf("business year end of %s = %s, want %s", c.day.Format("2006-01-02"), got.Format("2006-01-02"), c.want.Format("2006-01-02"))
		}
	}
	p = rulebook.RuleParams{BusinessYearStartMonth: 1, BusinessYearStartDay: 1}
	if got := membership.BusinessYearEnd(modelstest.Day(2026, 12, 31), p); !got.Equal(modelstest.Day(2026, 12, 31)) {
		t.Errorf("calendar year end = %s", got)
	}
}

func TestExclusionDecidedBySupervisoryBoard(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		e.SetRule(t, rulebook.RuleExclusionBody, "supervisory_board")
		_, a := e.Member(t, "ada@example.org", "Ada Lovelace", 1)
		sup, _ := e.Member(t, "sup@example.org", "Sue Pervisor", 1)
		if _, err := e.Memberships.Organs().Appoint(ctx, e.Board1, election(membership.OrganSupervisoryBoard, sup.UserID, e.Clock.Now(), modelstest.Day(2029, 6, 30))); err != nil {
			t.Fatal(err)
		}
		x, err := e.Memberships.OpenExclusion(ctx, e.Board1, a.ID, membership.ExclusionInput{Reason: reasons(t, e)[0], Facts: "Unpaid."})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.RecordStatement(ctx, e.Board1, x.ID, "Heard in person on 2026-03-15."); err != nil {
			t.Fatal(err)
		}
		in := membership.DecisionInput{Exclude: true, DecidedOn: e.Clock.Now()}
		if de := modelstest.WantCode(t, e.Memberships.DecideExclusion(ctx, e.Board2, x.ID, in), http.StatusForbidden); !strings.Contains(de.Safe, "supervisory board") {
			t.Errorf("message = %q", de.Safe)
		}
		// The supervisory board finds the proceedings on the organs page.
		ov, err := e.Memberships.Organs().Overview(ctx, models.Viewer{UserID: sup.UserID})
		if err != nil || len(ov.Exclusions) != 1 || ov.Exclusions[0].ID != x.ID || ov.Exclusions[0].Body != membership.BodySupervisoryBoard {
			t.Fatalf("open exclusions on the organs page = %+v, %v", ov, err)
		}
		if _, err := e.Memberships.Exclusion(ctx, models.Viewer{UserID: sup.UserID}, x.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.DecideExclusion(ctx, sup, x.ID, in); err != nil {
			t.Fatal(err)
		}
		// The letter is the board's (§68(2) GenG).
		modelstest.WantCode(t, e.Memberships.RecordExclusionLetter(ctx, sup, x.ID, e.Clock.Now()), http.StatusForbidden)
		if err := e.Memberships.RecordExclusionLetter(ctx, e.Board2, x.ID, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestExclusionHearingThenGeneralAssemblyDecides: where the bylaws give the
// decision to the general assembly, the board records it with the
// resolution as reference.
func TestExclusionHearingThenGeneralAssemblyDecides(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		e.SetRule(t, rulebook.RuleExclusionBody, "general_assembly")
		_, a := e.Member(t, "ada@example.org", "Ada Lovelace", 1)
		x, err := e.Memberships.OpenExclusion(ctx, e.Board1, a.ID, membership.ExclusionInput{Reason: reasons(t, e)[2], Facts: "Ran a spam relay."})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Memberships.RecordStatement(ctx, e.Board2, x.ID, "Heard at the assembly."); err != nil {
			t.Fatal(err)
		}
		in := membership.DecisionInput{Exclude: true, DecidedOn: e.Clock.Now()}
		modelstest.FieldErr(t, e.Memberships.DecideExclusion(ctx, e.Board1, x.ID, in), "reference")
		in.Reference = "General assembly 2026, item 4"
		if err := e.Memberships.DecideExclusion(ctx, e.Board1, x.ID, in); err != nil {
			t.Fatal(err)
		}
		if o := e.Overview(t, mustUser(t, db, a.ID)); o.Exclusion.DecisionReference != in.Reference || o.Exclusion.Body != membership.BodyGeneralAssembly {
			t.Errorf("decision = %+v", o.Exclusion)
		}
	})
}

func mustUser(t *testing.T, db *models.DB, membershipID string) string {
	t.Helper()
	var id string
	if err := db.Gorm.Raw("SELECT user_id FROM memberships WHERE id = ?", membershipID).Scan(&id).Error; err != nil || id == "" {
		t.Fatalf("user of %s: %v", membershipID, err)
	}
	return id
}

// TestExclusionClosedWhenMembershipEndsByNotice: a member who leaves by
// notice while proceedings run is not excluded afterwards.
func TestExclusionClosedWhenMembershipEndsByNotice(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		e.SetRule(t, rulebook.RuleNoticePeriodMonths, "3")
		ada, a := e.Member(t, "ada@example.org", "Ada Lovelace", 1)
		sub, err := e.Memberships.SubscribeShares(ctx, ada, ada.UserID, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 0); err != nil {
			t.Fatal(err)
		}
		x, err := e.Memberships.OpenExclusion(ctx, e.Board1, a.ID, membership.ExclusionInput{Reason: reasons(t, e)[0], Facts: "Unpaid."})
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC))
		if n, err := e.Memberships.ProcessDueNotices(ctx); err != nil || n != 1 {
			t.Fatalf("processed %d (%v)", n, err)
		}
		modelstest.WantCode(t, e.Memberships.DecideExclusion(ctx, e.Board1, x.ID, membership.DecisionInput{Exclude: true, DecidedOn: e.Clock.Now()}), http.StatusConflict)
		if o := e.Overview(t, ada.UserID); o.Membership.Status != membership.StatusFormer || o.Exclusion.ClosedAt == nil {
			t.Errorf("after leaving: %s, %+v", o.Membership.Status, o.Exclusion)
		}
		// The declaration of further shares left pending is closed too.
		modelstest.WantCode(t, e.Memberships.AdmitShares(ctx, e.Board1, sub.ID), http.StatusConflict)
		if o := e.Overview(t, ada.UserID); o.PendingShares() != 0 || o.FurtherShares[0].Reason != "the membership ended" {
			t.Errorf("pending declaration after leaving: %+v", o.FurtherShares)
		}
	})
}
