package membership_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func TestAdmissionWithOneApproval(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, m1 := e.Member(t, "ada@example.org", "Ada Lovelace", 3)
		_, m2 := e.Member(t, "bob@example.org", "Bob Builder", 1)
		if *m1.MemberNumber != 1 || *m2.MemberNumber != 2 {
			t.Errorf("member numbers = %d, %d; want 1, 2", *m1.MemberNumber, *m2.MemberNumber)
		}
		if !m1.AdmittedOn.Equal(modelstest.Day(2026, 3, 15)) {
			t.Errorf("admitted on %v", m1.AdmittedOn)
		}
		u, err := account.NewAccounts(db).Get(ctx, ada.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Has(account.RoleMember) {
			t.Errorf("roles = %v, want member", u.Roles)
		}
		o := e.Overview(t, ada.UserID)
		if o.SharesSubscribed != 3 || o.CapitalSubscribedCents != 15000 || o.SharesPaid != 0 || len(o.ShareLedger) != 1 {
			t.Errorf("overview after admission: %+v", o)
		}
		if o.ShareLedger[0].Kind != membership.ShareSubscription || !o.ShareLedger[0].EffectiveDate.Equal(modelstest.Day(2026, 3, 15)) {
			t.Errorf("share booking = %+v", o.ShareLedger[0])
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ? AND target_id = ?", "membership.admit", m1.ID); n != 1 {
			t.Errorf("admit audit = %d", n)
		}
		if n := modelstest.Mails(t, db, "ada@example.org"); n != 2 {
			t.Errorf("mails to ada = %d, want 2 (received, admitted)", n)
		}
		// Deciding again is a conflict.
		_, err = e.Memberships.Approve(ctx, e.Board2, m1.ID)
		modelstest.WantCode(t, err, http.StatusConflict)
		modelstest.WantCode(t, e.Memberships.Reject(ctx, e.Board2, m1.ID, "no"), http.StatusConflict)
	})
}

func TestAdmissionWithTwoApprovals(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db) // the seeded rules ask for two approvals
		// The applicant is a board member too, and still cannot approve.
		carol := e.User(t, "carol@example.org", account.RoleBoard)
		m := e.Apply(t, carol, "Carol", 2)
		_, err := e.Memberships.Approve(ctx, carol, m.ID)
		modelstest.WantCode(t, err, http.StatusForbidden)
		outsider := e.User(t, "outsider@example.org")
		_, err = e.Memberships.Approve(ctx, outsider, m.ID)
		modelstest.WantCode(t, err, http.StatusForbidden)

		got, err := e.Memberships.Approve(ctx, e.Board1, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != membership.StatusApplicant {
			t.Fatalf("admitted after one of two approvals")
		}
		_, err = e.Memberships.Approve(ctx, e.Board1, m.ID)
		if de := modelstest.WantCode(t, err, http.StatusConflict); !strings.Contains(de.Safe, "already approved") {
			t.Errorf("message = %q", de.Safe)
		}
		apps, err := e.Memberships.Applications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(apps) != 1 || len(apps[0].Approvals) != 1 || apps[0].Approvals[0].BoardUserID != e.Board1.UserID || apps[0].ApprovalsNeeded != 2 {
			t.Errorf("applications = %+v", apps)
		}
		detail, err := e.Memberships.Application(ctx, m.ID)
		if err != nil || !strings.Contains(detail.Membership.Declaration, "Carol") || detail.Email != "carol@example.org" {
			t.Errorf("application detail = %+v, %v", detail, err)
		}

		got, err = e.Memberships.Approve(ctx, e.Board2, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != membership.StatusMember || *got.MemberNumber != 1 {
			t.Errorf("after second approval: %s #%v", got.Status, got.MemberNumber)
		}
		if n := modelstest.Count(t, db, "audit_events", "action = ?", "membership.approve"); n != 2 {
			t.Errorf("approve audits = %d", n)
		}
		apps, _ = e.Memberships.Applications(ctx)
		if len(apps) != 0 {
			t.Errorf("admitted application still listed")
		}
	})
}

func TestConcurrentAdmissions(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		e.SetRule(t, rulebook.RuleAdmissionApprovals, "1")
		var ids []string
		for i := range 10 {
			who := e.User(t, fmt.Sprintf("m%d@example.org", i))
			ids = append(ids, e.Apply(t, who, fmt.Sprintf("Member %d", i), 1).ID)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(ids))
		for i, id := range ids {
			wg.Go(func() {
				board := e.Board1
				if i%2 == 1 {
					board = e.Board2
				}
				_, errs[i] = e.Memberships.Approve(ctx, board, id)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		var numbers []int64
		if err := db.Gorm.Raw("SELECT member_number FROM memberships ORDER BY member_number").Scan(&numbers).Error; err != nil {
			t.Fatal(err)
		}
		if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(numbers, want) {
			t.Errorf("member numbers = %v, want %v", numbers, want)
		}

		// Many board members racing on one application admit it once.
		who := e.User(t, "race@example.org")
		m := e.Apply(t, who, "Racer", 1)
		var boards []models.Actor
		for i := range 6 {
			boards = append(boards, e.User(t, fmt.Sprintf("b%d@example.org", i), account.RoleBoard))
		}
		var mu sync.Mutex
		admitted, conflicts := 0, 0
		for _, b := range boards {
			wg.Go(func() {
				_, err := e.Memberships.Approve(ctx, b, m.ID)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					admitted++
				} else if de, ok := models.AsError(err); ok && de.Code == http.StatusConflict {
					conflicts++
				} else {
					t.Errorf("unexpected error: %v", err)
				}
			})
		}
		wg.Wait()
		if admitted != 1 || conflicts != len(boards)-1 {
			t.Errorf("admitted %d times, %d conflicts", admitted, conflicts)
		}
		if n := modelstest.Count(t, db, "memberships", "member_number = 11"); n != 1 {
			t.Errorf("racer not number 11")
		}
		if n := modelstest.Count(t, db, "share_transactions", "membership_id = ?", m.ID); n != 1 {
			t.Errorf("racer share bookings = %d, want 1", n)
		}
	})
}

func TestRejectDeletesPersonalData(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		zed := e.User(t, "zed@example.org")
		in := modelstest.Application("Zebulon Quuxworth", 2)
		in.Street = "Geheimweg 77"
		m, err := e.Memberships.Apply(ctx, zed, zed.UserID, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Memberships.Approve(ctx, e.Board1, m.ID); err != nil {
			t.Fatal(err)
		}
		modelstest.FieldErr(t, e.Memberships.Reject(ctx, e.Board2, m.ID, "  "), "reason")
		if err := e.Memberships.Reject(ctx, e.Board2, m.ID, "We are not taking new members this year."); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"Zebulon", "Quuxworth", "Geheimweg", "DE89370400440532013000"} {
			if where := findAnywhere(t, db, secret); where != "" {
				t.Errorf("%q still stored in %s", secret, where)
			}
		}
		if n := modelstest.Count(t, db, "rejections", ""); n != 1 {
			t.Errorf("rejections = %d, want 1", n)
		}
		if n := modelstest.Count(t, db, "river_job", "CAST(args AS TEXT) LIKE ?", "%not taking new members%"); n != 1 {
			t.Errorf("rejection mails = %d, want 1", n)
		}
		if _, err := e.Memberships.Overview(ctx, zed.UserID); err == nil {
			t.Error("a rejected applicant still has a membership page")
		}
		// The account may apply again.
		e.Apply(t, zed, "Zebulon Quuxworth", 1)
	})
}

// findAnywhere returns the table of the first row that contains s in any
// column, or "".
func findAnywhere(t *testing.T, db *models.DB, s string) string {
	t.Helper()
	var tables []string
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if db.Dialect == models.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	if err := db.Gorm.Raw(q).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		rows, err := db.Gorm.Raw("SELECT * FROM " + table).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				var str string
				if b, ok := v.([]byte); ok {
					str = string(b)
				} else {
					str = fmt.Sprint(v)
				}
				if strings.Contains(str, s) {
					rows.Close()
					return table
				}
			}
		}
		rows.Close()
	}
	return ""
}
