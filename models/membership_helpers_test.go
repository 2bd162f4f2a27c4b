package models_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"allmende/models"
)

// mEnv wires the membership services on one database.
type mEnv struct {
	db     *models.DB
	clock  *models.ManualClock
	rules  *models.Rules
	ms     *models.Memberships
	board1 models.Actor
	board2 models.Actor
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func newMEnv(t *testing.T, db *models.DB) *mEnv {
	t.Helper()
	clock := models.NewManualClock(time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC))
	rules := models.NewRules(db, clock)
	e := &mEnv{db: db, clock: clock, rules: rules, ms: models.NewMemberships(db, newQueue(t, db), rules, clock)}
	e.board1 = e.user(t, "board1@example.org", models.RoleBoard)
	e.board2 = e.user(t, "board2@example.org", models.RoleBoard)
	return e
}

// user inserts an account directly: hashing a password per test user would
// make the suite slow.
func (e *mEnv) user(t *testing.T, email string, roles ...models.Role) models.Actor {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	now := time.Now().UTC()
	if err := e.db.Gorm.Exec("INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, 'x', ?, ?)",
		id, email, "Account "+strings.Split(email, "@")[0], now, now).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		if err := e.db.Gorm.Exec("INSERT INTO user_roles (user_id, role, granted_at) VALUES (?, ?, ?)", id, r, now).Error; err != nil {
			t.Fatal(err)
		}
	}
	return models.Actor{UserID: id, Email: email, IP: "192.0.2.1"}
}

func (e *mEnv) setRule(t *testing.T, key, value string) {
	t.Helper()
	if err := e.rules.Set(context.Background(), e.board1, key, value, e.clock.Now().Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
}

func application(name string, shares int) models.ApplicationInput {
	return models.ApplicationInput{
		PersonKind: "natural", LegalName: name, Street: "Hauptstraße 1", PostalCode: "10115", City: "Berlin",
		Country: "de", Shares: shares, SEPAMandate: true, IBAN: "de89 3704 0044 0532 0130 00", AccountHolder: name,
		AcceptBylaws: true, BylawsVersion: "2026-1",
	}
}

func (e *mEnv) apply(t *testing.T, who models.Actor, name string, shares int) *models.Membership {
	t.Helper()
	m, err := e.ms.Apply(context.Background(), who, who.UserID, application(name, shares))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// member applies and is admitted with one approval.
func (e *mEnv) member(t *testing.T, email, name string, shares int) (models.Actor, *models.Membership) {
	t.Helper()
	e.setRule(t, models.RuleAdmissionApprovals, "1")
	who := e.user(t, email)
	m := e.apply(t, who, name, shares)
	m, err := e.ms.Approve(context.Background(), e.board1, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != models.StatusMember {
		t.Fatalf("status after approval = %s", m.Status)
	}
	return who, m
}

func (e *mEnv) overview(t *testing.T, userID string) *models.MembershipOverview {
	t.Helper()
	o, err := e.ms.Overview(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func wantCode(t *testing.T, err error, code int) *models.Error {
	t.Helper()
	de, ok := models.AsError(err)
	if !ok || de.Code != code {
		t.Fatalf("want a %d domain error, got %v", code, err)
	}
	return de
}

// snapshot counts the rows of the tables a membership action may write.
func snapshot(t *testing.T, db *models.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"memberships", "membership_events", "membership_approvals", "notices",
		"share_transactions", "capital_transactions", "refunds", "rejections", "audit_events", "river_job", "user_roles"} {
		out[table] = count(t, db, table, "")
	}
	return out
}

func sameSnapshot(t *testing.T, db *models.DB, before map[string]int64, what string) {
	t.Helper()
	for table, n := range snapshot(t, db) {
		if n != before[table] {
			t.Errorf("%s: %s has %d rows, want %d", what, table, n, before[table])
		}
	}
}

func mails(t *testing.T, db *models.DB, to string) int64 {
	t.Helper()
	return count(t, db, "river_job", "kind = 'mail.send' AND CAST(args AS TEXT) LIKE ?", "%"+to+"%")
}
