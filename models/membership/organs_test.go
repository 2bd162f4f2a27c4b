package membership_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func roles(t *testing.T, db *models.DB, userID string) map[account.Role]string {
	t.Helper()
	var rows []account.UserRole
	if err := db.Gorm.Where("user_id = ?", userID).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[account.Role]string{}
	for _, r := range rows {
		out[r.Role] = r.Source
	}
	return out
}

func election(organ membership.Organ, userID string, start, end time.Time) membership.AppointInput {
	return membership.AppointInput{Organ: organ, UserID: userID, TermStart: start, TermEnd: end,
		Source: membership.SourceElection, AssemblyID: "assembly-2026", ItemID: "item-1"}
}

func TestSupervisoryBoardIncompatibleWithBoard(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		organs := e.Memberships.Organs()
		ada, _ := e.Member(t, "ada@example.org", "Ada Lovelace", 1)
		today := modelstest.Day(2026, 3, 15)

		a, err := organs.Appoint(ctx, e.Board1, election(membership.OrganBoard, ada.UserID, today, modelstest.Day(2028, 6, 30)))
		if err != nil {
			t.Fatal(err)
		}
		if got := roles(t, db, ada.UserID); got[account.RoleBoard] != account.RoleSourceAppointment {
			t.Fatalf("roles after election = %v, want board by appointment", got)
		}
		u, err := account.NewAccounts(db).Get(ctx, ada.UserID)
		if err != nil || !u.Has(account.RoleBoard) {
			t.Fatalf("signed-in user does not show the board role: %v %v", u, err)
		}
		// The member's history names the organ and the days in the reader's language.
		german := i18n.WithLocale(ctx, i18n.NewLocale(i18n.German, time.UTC))
		var appointed []string
		for _, ev := range e.Overview(t, ada.UserID).History {
			if ev.DetailMsg.Format == "appointed to the %s from %s to %s" {
				appointed = append(appointed, ev.Detail, ev.DetailMsg.Text(german))
			}
		}
		if want := []string{"appointed to the board from 2026-03-15 to 2028-06-30", "in den Vorstand bestellt, vom 15.3.2026 bis 30.6.2028"}; !reflect.DeepEqual(appointed, want) {
			t.Errorf("appointment in the history = %q, want %q", appointed, want)
		}
		before := modelstest.Snapshot(t, db)
		_, err = organs.Appoint(ctx, e.Board1, election(membership.OrganSupervisoryBoard, ada.UserID, today, modelstest.Day(2029, 6, 30)))
		de := modelstest.WantCode(t, err, http.StatusConflict)
		if de.Safe != "This member sits on the board until 2028-06-30; a seat on the supervisory board is incompatible with it (§37 GenG)." {
			t.Errorf("message = %q", de.Safe)
		}
		// German readers see the organs' German names.
		if got := de.Msgs[""].Text(german); got != "Dieses Mitglied gehört bis 30.6.2028 dem Organ „Vorstand“ an; ein Sitz im Organ „Aufsichtsrat“ ist damit unvereinbar (§ 37 GenG)." {
			t.Errorf("German message = %q", got)
		}
		// Nor a second, overlapping seat on the same organ.
		_, err = organs.Appoint(ctx, e.Board1, election(membership.OrganBoard, ada.UserID, modelstest.Day(2027, 1, 1), modelstest.Day(2029, 6, 30)))
		de = modelstest.WantCode(t, err, http.StatusConflict)
		if got := de.Msgs[""].Text(german); got != "Dieses Mitglied gehört bereits bis 30.6.2028 dem Organ „Vorstand“ an." {
			t.Errorf("German message = %q", got)
		}
		if after := modelstest.Snapshot(t, db); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("a refused appointment wrote: %v -> %v", before, after)
		}

		// After the board term, the supervisory board is open to her.
		sup, err := organs.Appoint(ctx, e.Board1, election(membership.OrganSupervisoryBoard, ada.UserID, modelstest.Day(2028, 7, 1), modelstest.Day(2031, 6, 30)))
		if err != nil {
			t.Fatal(err)
		}
		if got := roles(t, db, ada.UserID); got[account.RoleSupervisory] != "" {
			t.Errorf("supervisory role before the term began: %v", got)
		}
		e.Clock.Set(time.Date(2028, 7, 1, 0, 30, 0, 0, time.UTC))
		if n, err := e.Memberships.SyncOrganRoles(ctx); err != nil || n != 1 {
			t.Fatalf("sync changed %d (%v), want 1 person", n, err)
		}
		if got := roles(t, db, ada.UserID); got[account.RoleBoard] != "" || got[account.RoleSupervisory] != account.RoleSourceAppointment {
			t.Errorf("roles after the change of office = %v", got)
		}
		if n, _ := e.Memberships.SyncOrganRoles(ctx); n != 0 {
			t.Errorf("second sync changed %d", n)
		}
		active, err := organs.Active(ctx, membership.OrganSupervisoryBoard)
		if err != nil || len(active) != 1 || active[0].ID != sup.ID || active[0].Name != "Account ada" {
			t.Errorf("active supervisory board = %+v, %v", active, err)
		}
		if active, _ := organs.Active(ctx, membership.OrganBoard); len(active) != 0 {
			t.Errorf("board still lists the expired term %s: %+v", a.ID, active)
		}
		// The supervisory board appoints the board where the bylaws say so;
		// only its members record that, and not for one of themselves.
		bob, _ := e.Member(t, "bob@example.org", "Bob Builder", 1)
		dec := membership.AppointInput{Organ: membership.OrganBoard, UserID: bob.UserID, TermStart: e.Clock.Now(),
			TermEnd: modelstest.Day(2030, 12, 31), Source: membership.SourceDecision, Body: membership.BodySupervisoryBoard, Reference: "SB 2028/3"}
		_, err = organs.Appoint(ctx, e.Board1, dec)
		modelstest.WantCode(t, err, http.StatusForbidden)
		if _, err := organs.Appoint(ctx, ada, dec); err != nil {
			t.Fatal(err)
		}
		dec.UserID = ada.UserID
		_, err = organs.Appoint(ctx, ada, dec)
		modelstest.WantCode(t, err, http.StatusConflict)
		if n := modelstest.Count(t, db, "audit_events", "action = 'organ.appoint'"); n != 3 {
			t.Errorf("appointment audits = %d, want 3", n)
		}
	})
}

func TestSupervisoryBoardDroppedOnlyBySmallCooperative(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		e.SetRule(t, rulebook.RuleSupervisoryBoard, "no")
		organs := e.Memberships.Organs()
		var last models.Actor
		for i := range 20 {
			last, _ = e.Member(t, fmt.Sprintf("m%d@example.org", i), fmt.Sprintf("Member %d", i), 1)
		}
		in := election(membership.OrganSupervisoryBoard, last.UserID, e.Clock.Now(), modelstest.Day(2029, 6, 30))
		_, err := organs.Appoint(ctx, e.Board1, in)
		if de := modelstest.WantCode(t, err, http.StatusConflict); !strings.Contains(de.Safe, "20 members") {
			t.Errorf("message = %q", de.Safe)
		}
		e.Member(t, "m21@example.org", "Member 21", 1) // the 21st: the law asks for a supervisory board
		if _, err := organs.Appoint(ctx, e.Board1, in); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOrganAppointmentRefusals(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		organs := e.Memberships.Organs()
		ada, _ := e.Member(t, "ada@example.org", "Ada Lovelace", 1)
		outsider := e.User(t, "outsider@example.org")
		start, end := e.Clock.Now(), modelstest.Day(2028, 6, 30)

		_, err := organs.Appoint(ctx, e.Board1, election(membership.OrganBoard, outsider.UserID, start, end))
		modelstest.FieldErr(t, err, "user") // no membership
		applicant := e.User(t, "applicant@example.org")
		e.Apply(t, applicant, "Applicant", 1)
		_, err = organs.Appoint(ctx, e.Board1, election(membership.OrganBoard, applicant.UserID, start, end))
		modelstest.FieldErr(t, err, "user") // not admitted
		_, err = organs.Appoint(ctx, ada, election(membership.OrganBoard, ada.UserID, start, end))
		modelstest.WantCode(t, err, http.StatusForbidden) // a member cannot record an election
		_, err = organs.Appoint(ctx, e.Board1, election(membership.OrganBoard, ada.UserID, end, start))
		modelstest.FieldErr(t, err, "term_end")
		_, err = organs.Appoint(ctx, e.Board1, election(membership.OrganBoard, ada.UserID, modelstest.Day(2020, 1, 1), modelstest.Day(2025, 1, 1)))
		modelstest.FieldErr(t, err, "term_end")
		in := election(membership.OrganBoard, ada.UserID, start, end)
		in.AssemblyID = ""
		_, err = organs.Appoint(ctx, e.Board1, in)
		modelstest.FieldErr(t, err, "reference")
		in = election(membership.OrganSupervisoryBoard, ada.UserID, start, end)
		in.Source, in.Body = membership.SourceDecision, membership.BodySupervisoryBoard
		_, err = organs.Appoint(ctx, e.Board1, in)
		modelstest.FieldErr(t, err, "body") // the supervisory board is elected by the assembly
		in = election("treasurer", ada.UserID, start, end)
		_, err = organs.Appoint(ctx, e.Board1, in)
		modelstest.FieldErr(t, err, "organ")
		if n := modelstest.Count(t, db, "appointments", ""); n != 0 {
			t.Errorf("refused appointments stored: %d", n)
		}
	})
}

func TestOrganSeatsEndWithMembership(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		e.SetRule(t, rulebook.RuleNoticePeriodMonths, "3")
		organs := e.Memberships.Organs()
		ada, _ := e.Member(t, "ada@example.org", "Ada Lovelace", 1)
		// Ada was the first board by an administrator's grant; her election
		// takes the grant over.
		if err := account.NewAccounts(db).GrantRole(ctx, models.SystemActor("cli"), ada.UserID, account.RoleBoard); err != nil {
			t.Fatal(err)
		}
		if _, err := organs.Appoint(ctx, e.Board1, election(membership.OrganAppealsCommittee, ada.UserID, e.Clock.Now(), modelstest.Day(2030, 6, 30))); err != nil {
			t.Fatalf("appeals committee refused for a granted (not appointed) board role: %v", err)
		}
		if got := roles(t, db, ada.UserID); got[account.RoleBoard] != account.RoleSourceGrant || got[account.RoleAppeals] != account.RoleSourceAppointment {
			t.Fatalf("roles = %v", got)
		}
		// A resignation ends the seat and its role; the grant stays.
		active, _ := organs.Active(ctx, membership.OrganAppealsCommittee)
		bob, _ := e.Member(t, "bob@example.org", "Bob Builder", 1)
		modelstest.WantCode(t, organs.EndAppointment(ctx, bob, active[0].ID, e.Clock.Now(), membership.EndResigned), http.StatusForbidden)
		modelstest.FieldErr(t, organs.EndAppointment(ctx, e.Board1, active[0].ID, modelstest.Day(2031, 1, 1), membership.EndResigned), "last_day")
		if err := organs.EndAppointment(ctx, e.Board1, active[0].ID, e.Clock.Now().AddDate(0, 0, -1), membership.EndResigned); err != nil {
			t.Fatal(err)
		}
		modelstest.WantCode(t, organs.EndAppointment(ctx, e.Board1, active[0].ID, e.Clock.Now(), membership.EndResigned), http.StatusConflict)
		if got := roles(t, db, ada.UserID); got[account.RoleAppeals] != "" || got[account.RoleBoard] != account.RoleSourceGrant {
			t.Fatalf("roles after resignation = %v", got)
		}

		if _, err := organs.Appoint(ctx, e.Board1, election(membership.OrganBoard, ada.UserID, e.Clock.Now(), modelstest.Day(2030, 6, 30))); err != nil {
			t.Fatal(err)
		}
		if got := roles(t, db, ada.UserID); got[account.RoleBoard] != account.RoleSourceAppointment {
			t.Fatalf("grant not taken over by the appointment: %v", got)
		}
		if _, err := e.Memberships.GiveNotice(ctx, ada, ada.UserID, 0); err != nil {
			t.Fatal(err)
		}
		if got := roles(t, db, ada.UserID); got[account.RoleBoard] == "" {
			t.Errorf("notice given: the seat stays until the membership ends, roles = %v", got)
		}
		e.Clock.Set(time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)) // the day after the business year ended
		if n, err := e.Memberships.ProcessDueNotices(ctx); err != nil || n != 1 {
			t.Fatalf("processed %d (%v)", n, err)
		}
		if got := roles(t, db, ada.UserID); len(got) != 0 {
			t.Errorf("roles after leaving = %v, want none", got)
		}
		var a membership.Appointment
		if err := db.Gorm.Omit("Name").Where("user_id = ? AND organ = ?", ada.UserID, membership.OrganBoard).First(&a).Error; err != nil {
			t.Fatal(err)
		}
		if a.EndedOn == nil || !a.EndedOn.Equal(modelstest.Day(2026, 12, 31)) || a.EndReason != membership.EndMembershipEnded {
			t.Errorf("board seat after leaving = %+v", a)
		}
		if n, _ := e.Memberships.SyncOrganRoles(ctx); n != 0 {
			t.Errorf("sync after leaving changed %d", n)
		}
		// Board1, a bootstrap grant without membership, keeps the role.
		if got := roles(t, db, e.Board1.UserID); got[account.RoleBoard] != account.RoleSourceGrant {
			t.Errorf("bootstrap board lost its role: %v", got)
		}
	})
}
