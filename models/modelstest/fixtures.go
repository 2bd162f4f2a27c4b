package modelstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/models/rulebook"
)

// mEnv wires the membership services on one database.
type MEnv struct {
	DB          *models.DB
	Clock       *models.ManualClock
	Rules       *rulebook.Rules
	Memberships *membership.Memberships
	Board1      models.Actor
	Board2      models.Actor
}

func Day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func NewMEnv(t testing.TB, db *models.DB) *MEnv {
	t.Helper()
	clock := models.NewManualClock(time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC))
	rules := rulebook.NewRules(db, clock)
	e := &MEnv{DB: db, Clock: clock, Rules: rules, Memberships: membership.NewMemberships(db, NewQueue(t, db), rules, clock)}
	e.Board1 = e.User(t, "board1@example.org", account.RoleBoard)
	e.Board2 = e.User(t, "board2@example.org", account.RoleBoard)
	return e
}

// User inserts an account directly: hashing a password per test user would
// make the suite slow.
func (e *MEnv) User(t testing.TB, email string, roles ...account.Role) models.Actor {
	t.Helper()
	return InsertUser(t, e.DB, "Account "+strings.Split(email, "@")[0], email, roles...)
}

// InsertUser inserts an account with name, email and roles straight into
// the tables (no password hashing) and returns it as an actor.
func InsertUser(t testing.TB, db *models.DB, name, email string, roles ...account.Role) models.Actor {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	now := time.Now().UTC()
	if err := db.Gorm.Exec("INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, 'x', ?, ?)",
		id, email, name, now, now).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		if err := db.Gorm.Exec("INSERT INTO user_roles (user_id, role, granted_at) VALUES (?, ?, ?)", id, r, now).Error; err != nil {
			t.Fatal(err)
		}
	}
	return models.Actor{UserID: id, Email: email, IP: "192.0.2.1"}
}

func (e *MEnv) SetRule(t testing.TB, key, value string) {
	t.Helper()
	if err := e.Rules.Set(context.Background(), e.Board1, key, value, e.Clock.Now().Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
}

func Application(name string, shares int) membership.ApplicationInput {
	return membership.ApplicationInput{
		PersonKind: "natural", LegalName: name, Street: "Hauptstraße 1", PostalCode: "10115", City: "Berlin",
		Country: "de", Shares: shares, SEPAMandate: true, IBAN: "de89 3704 0044 0532 0130 00", AccountHolder: name,
		AcceptBylaws: true, BylawsVersion: "2026-1", AcknowledgeNoticePeriod: true,
	}
}

func (e *MEnv) Apply(t testing.TB, who models.Actor, name string, shares int) *membership.Membership {
	t.Helper()
	m, err := e.Memberships.Apply(context.Background(), who, who.UserID, Application(name, shares))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// member applies and is admitted with one approval.
func (e *MEnv) Member(t testing.TB, email, name string, shares int) (models.Actor, *membership.Membership) {
	t.Helper()
	e.SetRule(t, rulebook.RuleAdmissionApprovals, "1")
	who := e.User(t, email)
	m := e.Apply(t, who, name, shares)
	m, err := e.Memberships.Approve(context.Background(), e.Board1, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != membership.StatusMember {
		t.Fatalf("status after approval = %s", m.Status)
	}
	return who, m
}

func (e *MEnv) Overview(t *testing.T, userID string) *membership.MembershipOverview {
	t.Helper()
	o, err := e.Memberships.Overview(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func WantCode(t *testing.T, err error, code int) *models.Error {
	t.Helper()
	de, ok := models.AsError(err)
	if !ok || de.Code != code {
		t.Fatalf("want a %d domain error, got %v", code, err)
	}
	return de
}

// snapshot counts the rows of the tables a membership action may write.
func Snapshot(t *testing.T, db *models.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"memberships", "membership_events", "membership_approvals", "notices",
		"share_transactions", "capital_transactions", "refunds", "rejections", "audit_events", "river_job", "user_roles"} {
		out[table] = Count(t, db, table, "")
	}
	return out
}

func SameSnapshot(t *testing.T, db *models.DB, before map[string]int64, what string) {
	t.Helper()
	for table, n := range Snapshot(t, db) {
		if n != before[table] {
			t.Errorf("%s: %s has %d rows, want %d", what, table, n, before[table])
		}
	}
}

func Mails(t *testing.T, db *models.DB, to string) int64 {
	t.Helper()
	return Count(t, db, "river_job", "kind = 'mail.send' AND CAST(args AS TEXT) LIKE ?", "%"+to+"%")
}

func Register(t *testing.T, a *account.Accounts, email string, roles ...account.Role) *account.User {
	t.Helper()
	u, err := a.Register(context.Background(), models.Actor{IP: "192.0.2.1"},
		account.RegisterInput{Email: email, Name: "Ada", Password: "correct horse battery", Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func FieldErr(t *testing.T, err error, field string) string {
	t.Helper()
	de, ok := models.AsError(err)
	if !ok {
		t.Fatalf("want a domain error for %s, got %v", field, err)
	}
	if de.Fields[field] == "" {
		t.Fatalf("want an error on field %q, got %+v", field, de)
	}
	return de.Fields[field]
}

// ExcludeByLetter runs an exclusion (§68 GenG) up to the registered letter,
// sent today: proceedings opened by Board1, a hearing Board1 recorded, the
// board's decision recorded by Board2. The member is then "excluding".
func (e *MEnv) ExcludeByLetter(t *testing.T, membershipID string) *membership.Exclusion {
	t.Helper()
	ctx := context.Background()
	p, err := e.Rules.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.Memberships.OpenExclusion(ctx, e.Board1, membershipID, membership.ExclusionInput{Reason: p.Reasons()[0], Facts: "Two reminders went unanswered."})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Memberships.RecordStatement(ctx, e.Board1, x.ID, "Heard by phone; no objection raised."); err != nil {
		t.Fatal(err)
	}
	if err := e.Memberships.DecideExclusion(ctx, e.Board2, x.ID, membership.DecisionInput{Exclude: true, DecidedOn: e.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.Memberships.RecordExclusionLetter(ctx, e.Board1, x.ID, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	return x
}
