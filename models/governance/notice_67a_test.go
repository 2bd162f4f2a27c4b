package governance_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/governance"
	"allmende/models/membership"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

// TestExtraordinaryNoticeAfterBylawChange67a: after an adopted change of
// the bylaws of a kind §67a GenG names, a member who declared an objection
// for the minutes may give notice within one month of the resolution; the
// membership ends at the end of that business year and the change does not
// bind them. Refused without an objection, twice, and after the month.
func TestExtraordinaryNoticeAfterBylawChange67a(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		e.Memberships.SetExtraordinaryRights(governance.ExtraordinaryRights)
		ms := e.members(t, "m", 4)
		a, items := closedWithChair(t, e, ms) // m0 voted no and objected
		if err := e.g.Object(ctx, ms[3], viewer(ms[3]), a.ID, items[0].ID, "Too expensive for me as well."); err != nil {
			t.Fatal(err)
		}
		// Before the resolution there is no right yet.
		modelstest.WantCode(t, errOf(e.Memberships.GiveExtraordinaryNotice(ctx, ms[0], ms[0].UserID, items[0].ID)), http.StatusConflict)
		e.close(t, a)

		// An ordinary notice first: the extraordinary one takes its place.
		ordinary, err := e.Memberships.GiveNotice(ctx, ms[0], ms[0].UserID, 0)
		if err != nil {
			t.Fatal(err)
		}
		rights, err := e.Memberships.ExtraordinaryRights(ctx, ms[0].UserID)
		if err != nil || len(rights) != 1 || rights[0].ItemID != items[0].ID {
			t.Fatalf("m0's rights = %+v, %v", rights, err)
		}
		// No objection, no right (m1 voted yes; m2 the chair neither objected).
		modelstest.WantCode(t, errOf(e.Memberships.GiveExtraordinaryNotice(ctx, ms[1], ms[1].UserID, items[0].ID)), http.StatusConflict)
		modelstest.WantCode(t, errOf(e.Memberships.GiveExtraordinaryNotice(ctx, ms[0], ms[0].UserID, "no-such-item")), http.StatusConflict)
		modelstest.WantCode(t, errOf(e.Memberships.GiveExtraordinaryNotice(ctx, ms[1], ms[0].UserID, items[0].ID)), http.StatusForbidden)

		n, err := e.Memberships.GiveExtraordinaryNotice(ctx, ms[0], ms[0].UserID, items[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		p, err := rulebook.RulesAt(db.Gorm, e.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		today := modelstest.Day(e.Clock.Now().Year(), e.Clock.Now().Month(), e.Clock.Now().Day())
		if n.Kind != membership.NoticeExtraordinary67a || n.ResolutionRef != items[0].ID || !n.EffectiveOn.Equal(membership.BusinessYearEnd(today, p)) ||
			!strings.Contains(n.BylawsNotBinding, "Compulsory second share") || !n.Whole() {
			t.Errorf("notice = %+v (business year ends %v)", n, membership.BusinessYearEnd(today, p))
		}
		o, err := e.Memberships.Overview(ctx, ms[0].UserID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Membership.Status != membership.StatusLeaving {
			t.Errorf("status = %s", o.Membership.Status)
		}
		open := 0
		for _, x := range o.Notices {
			if x.ID == ordinary.ID && x.WithdrawnAt == nil {
				t.Errorf("the ordinary notice is still open beside the extraordinary one")
			}
			if x.Status() == "open" {
				open++
			}
		}
		recorded := false
		for _, ev := range o.History {
			recorded = recorded || strings.Contains(ev.Detail, "does not bind this member")
		}
		if open != 1 || !recorded {
			t.Errorf("open notices %d, register records the bylaws not binding: %v (%+v)", open, recorded, o.History)
		}
		// Used once.
		modelstest.WantCode(t, errOf(e.Memberships.GiveExtraordinaryNotice(ctx, ms[0], ms[0].UserID, items[0].ID)), http.StatusConflict)
		if r, _ := e.Memberships.ExtraordinaryRights(ctx, ms[0].UserID); len(r) != 0 {
			t.Errorf("rights after use = %+v", r)
		}
		// m3 objected too, but lets the month pass.
		e.Clock.Set(rights[0].Until.AddDate(0, 0, 1))
		modelstest.WantCode(t, errOf(e.Memberships.GiveExtraordinaryNotice(ctx, ms[3], ms[3].UserID, items[0].ID)), http.StatusConflict)
	})
}

func errOf[T any](_ T, err error) error { return err }
