package governance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
)

// gEnv wires the governance service beside the membership services.
type gEnv struct {
	*modelstest.MEnv
	g     *governance.Governance
	board models.Viewer
}

func newGEnv(t testing.TB, db *models.DB) *gEnv {
	t.Helper()
	e := modelstest.NewMEnv(t, db)
	return &gEnv{MEnv: e, g: governance.NewGovernance(db, modelstest.NewQueue(t, db), e.Rules, e.Clock),
		board: models.Viewer{UserID: e.Board1.UserID}}
}

func viewer(a models.Actor) models.Viewer { return models.Viewer{UserID: a.UserID} }

// members inserts n admitted members directly (admitted today), because
// applying and approving hundreds of members one by one would be slow.
func (e *gEnv) members(t *testing.T, prefix string, n int) []models.Actor {
	t.Helper()
	out := make([]models.Actor, n)
	now := time.Now().UTC()
	today := modelstest.Day(e.Clock.Now().Year(), e.Clock.Now().Month(), e.Clock.Now().Day())
	err := e.DB.Gorm.Transaction(func(tx *gorm.DB) error {
		for i := range n {
			id := uuid.Must(uuid.NewV7()).String()
			email := fmt.Sprintf("%s%d@example.org", prefix, i)
			name := fmt.Sprintf("%s %d", prefix, i)
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{"INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, 'x', ?, ?)", []any{id, email, name, now, now}},
				{"INSERT INTO user_roles (user_id, role, granted_at) VALUES (?, 'member', ?)", []any{id, now}},
				{`INSERT INTO memberships (id, user_id, status, person_kind, legal_name, street, postal_code, city, country,
					shares_applied, bylaws_version, bylaws_accepted_at, declaration, applied_at, admitted_on, created_at, updated_at)
					VALUES (?, ?, 'member', 'natural', ?, 'Hauptstraße 1', '10115', 'Berlin', 'DE', 1, '2026-1', ?, 'x', ?, ?, ?, ?)`,
					[]any{uuid.Must(uuid.NewV7()).String(), id, name, now, now, today, now, now}},
			} {
				if err := tx.Exec(q.sql, q.args...).Error; err != nil {
					return err
				}
			}
			out[i] = models.Actor{UserID: id, Email: email, IP: "192.0.2.9"}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assembly plans an assembly voting for a week from 30 days after the
// clock's now, with the given items, invites with due notice, moves the
// clock to the start of voting and returns the assembly with its items;
// open says whether voting is opened too.
func (e *gEnv) assembly(t *testing.T, open bool, items ...governance.ItemInput) (*governance.Assembly, []*governance.AgendaItem) {
	t.Helper()
	ctx := context.Background()
	start := e.Clock.Now().AddDate(0, 0, 30)
	a, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "General assembly", Form: governance.FormVirtual,
		AccessDetails: "https://meet.example.org/ga", VotingStart: start, VotingEnd: start.Add(7 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var out []*governance.AgendaItem
	for _, in := range items {
		it, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, it)
	}
	if err := e.g.SendInvitations(ctx, e.Board1, e.board, a.ID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(start)
	if open {
		if err := e.g.OpenVoting(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	return a, out
}

func (e *gEnv) cast(t *testing.T, who models.Actor, a *governance.Assembly, it *governance.AgendaItem, choice string) *governance.Receipt {
	t.Helper()
	r, err := e.g.Cast(context.Background(), who, viewer(who), a.ID, it.ID, governance.BallotInput{Choice: choice})
	if err != nil {
		t.Fatalf("cast %s by %s: %v", choice, who.Email, err)
	}
	return r
}

// close moves the clock to the end of voting, if it is not past it, and
// closes: voting runs for the whole announced period.
func (e *gEnv) close(t *testing.T, a *governance.Assembly) *governance.AssemblyResults {
	t.Helper()
	if e.Clock.Now().Before(a.VotingEnd) {
		e.Clock.Set(a.VotingEnd)
	}
	res, err := e.g.CloseVoting(context.Background(), e.Board1, e.board, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func motion(title string) governance.ItemInput {
	return governance.ItemInput{Title: title, Kind: governance.ItemOrdinary}
}
