package governance_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

// TestBylawChangeEffectiveOnRegistration: an adopted change of bylaw rules
// waits for the entry in the register (§16(6) GenG), which the board
// records; an entitlement adopted with it applies at once.
func TestBylawChangeEffectiveOnRegistration(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 4)
		if !rulebook.IsBylawRule(rulebook.RuleSharePriceCents) || rulebook.IsBylawRule(rulebook.RuleEntitlementVCPUs) || rulebook.IsBylawRule(rulebook.RuleHouseRulesText) {
			t.Fatal("the registry misclassifies bylaw rules")
		}
		p, err := e.g.Submit(ctx, ms[0], viewer(ms[0]), governance.ProposalInput{Title: "Dearer shares, more cores", Reasoning: "r",
			Kind: governance.ProposalParameters, EffectiveFrom: e.Clock.Now(),
			Parameters: map[string]string{rulebook.RuleSharePriceCents: "6000", rulebook.RuleEntitlementVCPUs: "3"}})
		if err != nil {
			t.Fatal(err)
		}
		a, items := e.assembly(t, true, governance.ItemInput{Kind: governance.ItemBylawChange, ProposalID: p.ID})
		for _, m := range ms {
			e.cast(t, m, a, items[0], "yes")
		}
		res := e.close(t, a)
		if !res.Items[0].Adopted {
			t.Fatalf("not adopted: %+v", res.Items[0])
		}
		closed := e.Clock.Now()
		now, err := e.Rules.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if now.SharePriceCents != 5000 || now.EntitlementPerShare.VCPUs != 3 {
			t.Errorf("after the vote: price %d (want 5000 until registered), vCPUs %d (want 3 at once)", now.SharePriceCents, now.EntitlementPerShare.VCPUs)
		}
		d, _ := e.g.Proposal(ctx, viewer(ms[0]), p.ID)
		if d.Status != governance.ProposalAwaitingRegistration {
			t.Errorf("proposal status %q", d.Status)
		}
		regs, err := e.g.Registrations(ctx, viewer(ms[1]))
		if err != nil || len(regs) != 1 || regs[0].RegisteredOn != nil || regs[0].Values[rulebook.RuleSharePriceCents] != "6000" || len(regs[0].Values) != 1 {
			t.Fatalf("registrations = %+v, %v", regs, err)
		}
		r := regs[0]

		// Only the board, not in the future, not before the resolution.
		_, err = e.g.RecordRegistration(ctx, ms[0], viewer(ms[0]), r.ID, closed)
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, err = e.g.RecordRegistration(ctx, e.Board1, e.board, r.ID, closed.AddDate(0, 0, 2))
		modelstest.FieldErr(t, err, "registered_on")
		_, err = e.g.RecordRegistration(ctx, e.Board1, e.board, r.ID, closed.AddDate(0, 0, -2))
		modelstest.FieldErr(t, err, "registered_on")

		// Entered in the register three weeks later.
		e.Clock.Set(closed.AddDate(0, 0, 21))
		if p, _ := e.Rules.Current(ctx); p.SharePriceCents != 5000 {
			t.Errorf("price %d in force before the registration is recorded", p.SharePriceCents)
		}
		day := closed.AddDate(0, 0, 20)
		got, err := e.g.RecordRegistration(ctx, e.Board1, e.board, r.ID, day)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC) // a calendar day, like every effective date
		if got.RegisteredOn == nil || !got.RegisteredOn.Equal(start) {
			t.Errorf("registered on %v, want %v", got.RegisteredOn, start)
		}
		if p, _ := e.Rules.At(ctx, start.Add(-time.Second)); p.SharePriceCents != 5000 {
			t.Errorf("the eve of the registration: %d", p.SharePriceCents)
		}
		if p, _ := e.Rules.At(ctx, start); p.SharePriceCents != 6000 {
			t.Errorf("the day of the registration: %d", p.SharePriceCents)
		}
		if d, _ := e.g.Proposal(ctx, viewer(ms[0]), p.ID); d.Status != governance.ProposalAdopted {
			t.Errorf("proposal status %q after registration", d.Status)
		}
		_, err = e.g.RecordRegistration(ctx, e.Board1, e.board, r.ID, day)
		modelstest.WantCode(t, err, http.StatusConflict)
		if n := modelstest.Count(t, db, "audit_events", "action = 'rules.registered'"); n != 1 {
			t.Errorf("rules.registered audits = %d", n)
		}
	})
}

// planned creates an assembly of form virtual beginning days after the
// clock's now (at hour:00 UTC), with one item.
func (e *gEnv) planned(t *testing.T, days, hour int) *governance.Assembly {
	t.Helper()
	ctx := context.Background()
	now := e.Clock.Now()
	start := time.Date(now.Year(), now.Month(), now.Day()+days, hour, 0, 0, 0, time.UTC)
	a, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA", Form: governance.FormVirtual,
		AccessDetails: "https://meet.example.org/ga", VotingStart: start, VotingEnd: start.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, motion("Annual accounts")); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestNoticePeriodTooShort: 14 whole days between the day the invitation
// counts as received (3 days after sending, by the bylaws) and the day of
// the assembly, counted in the cooperative's time zone (§46(1) GenG).
func TestNoticePeriodTooShort(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 2)
		// Sent 2026-03-15, received 03-18; the assembly on 04-01 leaves 13.
		short := e.planned(t, 17, 10)
		err := e.g.SendInvitations(ctx, e.Board1, e.board, short.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		for _, want := range []string{"2026-03-18", "13 whole day(s)", "at least 14", "2026-03-14"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal lacks %q: %v", want, err)
			}
		}
		d, _ := e.g.Assembly(ctx, e.board, short.ID)
		if d.NoticeWarning.Format == "" || d.SendInvitationsBy.Format("2006-01-02") != "2026-03-14" {
			t.Errorf("board's detail: warning %q, send by %v", d.NoticeWarning, d.SendInvitationsBy)
		}
		if n := modelstest.Mails(t, db, ms[0].Email); n != 0 {
			t.Errorf("%d invitations sent", n)
		}
		modelstest.WantCode(t, e.g.OpenVoting(ctx, e.Board1, e.board, short.ID), http.StatusConflict)

		// 23:30 UTC on 04-01 is 01:30 on 04-02 in Berlin: 14 whole days.
		late := e.planned(t, 17, 23)
		if err := db.Gorm.Exec("UPDATE assemblies SET voting_start = ? WHERE id = ?",
			time.Date(2026, 4, 1, 23, 30, 0, 0, time.UTC), late.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, late.ID); err != nil {
			t.Errorf("invitation in time in Berlin refused: %v", err)
		}

		// A longer receipt period in the bylaws moves the deadline.
		e.SetRule(t, rulebook.RuleInvitationReceiptDays, "5")
		ok := e.planned(t, 18, 10)
		modelstest.WantCode(t, e.g.SendInvitations(ctx, e.Board1, e.board, ok.ID), http.StatusConflict)
		e.SetRule(t, rulebook.RuleInvitationReceiptDays, "3")
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, ok.ID); err != nil {
			t.Fatal(err)
		}
		if n := modelstest.Mails(t, db, ms[0].Email); n != 2 {
			t.Errorf("%d invitations, want 2", n)
		}
		d, _ = e.g.Assembly(ctx, viewer(ms[0]), ok.ID)
		for _, want := range []string{"Taking part online: https://meet.example.org/ga", "(Europe/Berlin)", "1. Annual accounts", "CEST"} {
			if !strings.Contains(d.InvitationText, want) {
				t.Errorf("invitation as sent lacks %q:\n%s", want, d.InvitationText)
			}
		}
	})
}

// TestInvitationRefusedTooLate: what the invitation must say, and items
// demanded by members after it with a second notice a week ahead (§45(2),
// §46(2) GenG).
func TestInvitationRefusedTooLate(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 10)
		now := e.Clock.Now()
		_, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA", Form: governance.FormHybrid,
			VotingStart: now.AddDate(0, 1, 0), VotingEnd: now.AddDate(0, 1, 1)})
		modelstest.FieldErr(t, err, "place")
		modelstest.FieldErr(t, err, "access_details")
		_, err = e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA", Form: governance.FormTwoPhase, AccessDetails: "x",
			DiscussionStart: now.AddDate(0, 1, 0), DiscussionEnd: now.AddDate(0, 1, 1), VotingStart: now.AddDate(0, 1, 1), VotingEnd: now.AddDate(0, 1, 2)})
		modelstest.FieldErr(t, err, "discussion_form")

		a := e.planned(t, 30, 10)
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		// A proposal without the support members need: refused after the
		// invitation; with it, added with a second notice.
		p, err := e.g.Submit(ctx, ms[0], viewer(ms[0]), governance.ProposalInput{Title: "Open the books", Reasoning: "r", Kind: governance.ProposalMotion})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: p.ID})
		modelstest.WantCode(t, err, http.StatusConflict)
		if err := e.g.Support(ctx, ms[1], viewer(ms[1]), p.ID); err != nil {
			t.Fatal(err)
		}
		// 21 days before: in time for the second notice.
		e.Clock.Set(now.AddDate(0, 0, 9))
		it, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if !it.Demanded {
			t.Errorf("item = %+v", it)
		}
		if n := modelstest.Mails(t, db, ms[5].Email); n != 2 {
			t.Errorf("%d mails (invitation, second notice), want 2", n)
		}
		d, _ := e.g.Assembly(ctx, viewer(ms[0]), a.ID)
		if d.SecondNoticeAt == nil || !strings.Contains(d.InvitationText, "Supplementary notice") || !strings.Contains(d.InvitationText, "2. Open the books") {
			t.Errorf("invitation as sent:\n%s", d.InvitationText)
		}
		// Too late for another: 8 days before the assembly leaves 4 whole days after receipt.
		p2, _ := e.g.Submit(ctx, ms[2], viewer(ms[2]), governance.ProposalInput{Title: "Paint the racks", Reasoning: "r", Kind: governance.ProposalMotion})
		if err := e.g.Support(ctx, ms[3], viewer(ms[3]), p2.ID); err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(now.AddDate(0, 0, 22))
		_, err = e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: p2.ID})
		modelstest.WantCode(t, err, http.StatusConflict)
	})
}

// TestDemandExtraordinaryAssembly: a tenth of the members demand an
// assembly (§45(1) GenG); the board convenes it for the demand.
func TestDemandExtraordinaryAssembly(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 11)
		_, err := e.g.DemandAssembly(ctx, ms[0], viewer(ms[0]), "", "")
		modelstest.FieldErr(t, err, "purpose")
		outsider := e.User(t, "outsider@example.org")
		_, err = e.g.DemandAssembly(ctx, outsider, viewer(outsider), "Elect a new board", "The board has resigned.")
		modelstest.WantCode(t, err, http.StatusForbidden)
		d, err := e.g.DemandAssembly(ctx, ms[0], viewer(ms[0]), "Elect a new board", "The board has resigned.")
		if err != nil {
			t.Fatal(err)
		}
		if d.Supporters != 1 || d.Needed != 2 || d.Reached {
			t.Errorf("demand = %+v", d)
		}
		modelstest.WantCode(t, e.g.SupportDemand(ctx, ms[0], viewer(ms[0]), d.ID), http.StatusConflict)
		if err := e.g.SupportDemand(ctx, ms[1], viewer(ms[1]), d.ID); err != nil {
			t.Fatal(err)
		}
		if d, _ = e.g.Demand(ctx, viewer(ms[2]), d.ID); !d.Reached {
			t.Errorf("demand = %+v", d)
		}
		now := e.Clock.Now()
		a, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "Extraordinary assembly", Form: governance.FormVirtual,
			AccessDetails: "x", DemandID: d.ID, VotingStart: now.AddDate(0, 1, 0), VotingEnd: now.AddDate(0, 1, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if d, _ = e.g.Demand(ctx, viewer(ms[2]), d.ID); d.Status != governance.DemandConvened || d.AssemblyID != a.ID {
			t.Errorf("demand = %+v", d)
		}
		modelstest.WantCode(t, e.g.SupportDemand(ctx, ms[3], viewer(ms[3]), d.ID), http.StatusConflict)
		_, err = e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "Again", Form: governance.FormVirtual,
			AccessDetails: "x", DemandID: d.ID, VotingStart: now.AddDate(0, 1, 0), VotingEnd: now.AddDate(0, 1, 1)})
		modelstest.FieldErr(t, err, "demand_id")
	})
}

// TestVotingRunsWholePeriod: no early close unless the whole electorate
// has voted on every item.
func TestVotingRunsWholePeriod(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 3)
		a, items := e.assembly(t, true, motion("One"), motion("Two"))
		closeErr := func() error { _, err := e.g.CloseVoting(ctx, e.Board1, e.board, a.ID); return err }
		modelstest.WantCode(t, closeErr(), http.StatusConflict)
		for _, m := range ms {
			e.cast(t, m, a, items[0], "yes")
		}
		e.cast(t, ms[0], a, items[1], "no")
		e.cast(t, ms[1], a, items[1], "no")
		err := closeErr()
		modelstest.WantCode(t, err, http.StatusConflict)
		if !strings.Contains(err.Error(), "1 vote(s)") {
			t.Errorf("refusal = %v", err)
		}
		e.cast(t, ms[2], a, items[1], "abstain")
		if err := closeErr(); err != nil { // everybody voted: early close allowed
			t.Fatal(err)
		}
	})
}

// TestDischargeExcludesSittingBoard: the sitting board members and the
// votes they hold by proxy are excluded from the board's discharge
// (§43(6) GenG), without the board naming them.
func TestDischargeExcludesSittingBoard(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 3)
		// m0 sits on the board too and holds m1's proxy.
		if err := db.Gorm.Exec("INSERT INTO user_roles (user_id, role, granted_at) VALUES (?, 'board', ?)", ms[0].UserID, e.Clock.Now()).Error; err != nil {
			t.Fatal(err)
		}
		a, items := e.assembly(t, false, governance.ItemInput{Title: "Discharge of the board", Kind: governance.ItemOrdinary, Discharge: governance.DischargeBoard},
			motion("Annual accounts"))
		_, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Title: "x", Kind: governance.ItemElection, Seats: 1, Candidates: []string{"A"}, Discharge: "board"})
		modelstest.WantCode(t, err, http.StatusConflict) // invited: only demanded items now
		if err := e.g.GrantProxy(ctx, ms[1], viewer(ms[1]), a.ID, ms[0].Email, ""); err != nil {
			t.Fatal(err)
		}
		if err := e.g.OpenVoting(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		discharge, accounts := items[0], items[1]
		_, err = e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, discharge.ID, governance.BallotInput{Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, err = e.g.Cast(ctx, ms[0], viewer(ms[0]), a.ID, discharge.ID, governance.BallotInput{OnBehalfOf: ms[1].UserID, Choice: "yes"})
		modelstest.WantCode(t, err, http.StatusForbidden)
		e.cast(t, ms[0], a, accounts, "yes") // other items: as usual
		e.cast(t, ms[2], a, discharge, "yes")
		res := e.close(t, a)
		if r := res.Items[0]; r.Electorate != 2 || r.Yes != 1 || !r.Adopted {
			t.Errorf("discharge = %+v", r)
		}
	})
}
