package models_test

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
)

func TestAdmissionWithOneApproval(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newMEnv(t, db)
		ada, m1 := e.member(t, "ada@example.org", "Ada Lovelace", 3)
		_, m2 := e.member(t, "bob@example.org", "Bob Builder", 1)
		if *m1.MemberNumber != 1 || *m2.MemberNumber != 2 {
			t.Errorf("member numbers = %d, %d; want 1, 2", *m1.MemberNumber, *m2.MemberNumber)
		}
		if !m1.AdmittedOn.Equal(day(2026, 3, 15)) {
			t.Errorf("admitted on %v", m1.AdmittedOn)
		}
		u, err := models.NewAccounts(db).Get(ctx, ada.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Has(models.RoleMember) {
			t.Errorf("roles = %v, want member", u.Roles)
		}
		o := e.overview(t, ada.UserID)
		if o.SharesSubscribed != 3 || o.CapitalSubscribedCents != 15000 || o.SharesPaid != 0 || len(o.ShareLedger) != 1 {
			t.Errorf("overview after admission: %+v", o)
		}
		if o.ShareLedger[0].Kind != models.ShareSubscription || !o.ShareLedger[0].EffectiveDate.Equal(day(2026, 3, 15)) {
			t.Errorf("share booking = %+v", o.ShareLedger[0])
		}
		if n := count(t, db, "audit_events", "action = ? AND target_id = ?", "membership.admit", m1.ID); n != 1 {
			t.Errorf("admit audit = %d", n)
		}
		if n := mails(t, db, "ada@example.org"); n != 2 {
			t.Errorf("mails to ada = %d, want 2 (received, admitted)", n)
		}
		// Deciding again is a conflict.
		_, err = e.ms.Approve(ctx, e.board2, m1.ID)
		wantCode(t, err, http.StatusConflict)
		wantCode(t, e.ms.Reject(ctx, e.board2, m1.ID, "no"), http.StatusConflict)
	})
}

func TestAdmissionWithTwoApprovals(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newMEnv(t, db) // the seeded rules ask for two approvals
		// The applicant is a board member too, and still cannot approve.
		carol := e.user(t, "carol@example.org", models.RoleBoard)
		m := e.apply(t, carol, "Carol", 2)
		_, err := e.ms.Approve(ctx, carol, m.ID)
		wantCode(t, err, http.StatusForbidden)
		outsider := e.user(t, "outsider@example.org")
		_, err = e.ms.Approve(ctx, outsider, m.ID)
		wantCode(t, err, http.StatusForbidden)

		got, err := e.ms.Approve(ctx, e.board1, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != models.StatusApplicant {
			t.Fatalf("admitted after one of two approvals")
		}
		_, err = e.ms.Approve(ctx, e.board1, m.ID)
		if de := wantCode(t, err, http.StatusConflict); !strings.Contains(de.Safe, "already approved") {
			t.Errorf("message = %q", de.Safe)
		}
		apps, err := e.ms.Applications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(apps) != 1 || len(apps[0].Approvals) != 1 || apps[0].Approvals[0].BoardUserID != e.board1.UserID || apps[0].ApprovalsNeeded != 2 {
			t.Errorf("applications = %+v", apps)
		}
		detail, err := e.ms.Application(ctx, m.ID)
		if err != nil || !strings.Contains(detail.Membership.Declaration, "Carol") || detail.Email != "carol@example.org" {
			t.Errorf("application detail = %+v, %v", detail, err)
		}

		got, err = e.ms.Approve(ctx, e.board2, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != models.StatusMember || *got.MemberNumber != 1 {
			t.Errorf("after second approval: %s #%v", got.Status, got.MemberNumber)
		}
		if n := count(t, db, "audit_events", "action = ?", "membership.approve"); n != 2 {
			t.Errorf("approve audits = %d", n)
		}
		apps, _ = e.ms.Applications(ctx)
		if len(apps) != 0 {
			t.Errorf("admitted application still listed")
		}
	})
}

func TestConcurrentAdmissions(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newMEnv(t, db)
		e.setRule(t, models.RuleAdmissionApprovals, "1")
		var ids []string
		for i := range 10 {
			who := e.user(t, fmt.Sprintf("m%d@example.org", i))
			ids = append(ids, e.apply(t, who, fmt.Sprintf("Member %d", i), 1).ID)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(ids))
		for i, id := range ids {
			wg.Go(func() {
				board := e.board1
				if i%2 == 1 {
					board = e.board2
				}
				_, errs[i] = e.ms.Approve(ctx, board, id)
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
		who := e.user(t, "race@example.org")
		m := e.apply(t, who, "Racer", 1)
		var boards []models.Actor
		for i := range 6 {
			boards = append(boards, e.user(t, fmt.Sprintf("b%d@example.org", i), models.RoleBoard))
		}
		var mu sync.Mutex
		admitted, conflicts := 0, 0
		for _, b := range boards {
			wg.Go(func() {
				_, err := e.ms.Approve(ctx, b, m.ID)
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
		if n := count(t, db, "memberships", "member_number = 11"); n != 1 {
			t.Errorf("racer not number 11")
		}
		if n := count(t, db, "share_transactions", "membership_id = ?", m.ID); n != 1 {
			t.Errorf("racer share bookings = %d, want 1", n)
		}
	})
}

func TestRejectDeletesPersonalData(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newMEnv(t, db)
		zed := e.user(t, "zed@example.org")
		in := application("Zebulon Quuxworth", 2)
		in.Street = "Geheimweg 77"
		m, err := e.ms.Apply(ctx, zed, zed.UserID, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ms.Approve(ctx, e.board1, m.ID); err != nil {
			t.Fatal(err)
		}
		fieldErr(t, e.ms.Reject(ctx, e.board2, m.ID, "  "), "reason")
		if err := e.ms.Reject(ctx, e.board2, m.ID, "We are not taking new members this year."); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"Zebulon", "Quuxworth", "Geheimweg", "DE89370400440532013000"} {
			if where := findAnywhere(t, db, secret); where != "" {
				t.Errorf("%q still stored in %s", secret, where)
			}
		}
		if n := count(t, db, "rejections", ""); n != 1 {
			t.Errorf("rejections = %d, want 1", n)
		}
		if n := count(t, db, "river_job", "CAST(args AS TEXT) LIKE ?", "%not taking new members%"); n != 1 {
			t.Errorf("rejection mails = %d, want 1", n)
		}
		if _, err := e.ms.Overview(ctx, zed.UserID); err == nil {
			t.Error("a rejected applicant still has a membership page")
		}
		// The account may apply again.
		e.apply(t, zed, "Zebulon Quuxworth", 1)
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
