package membership_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/membership"
	"allmende/models/modelstest"
)

// BenchmarkSyncOrganRoles measures the hourly role sync with 300 members of
// whom 30 hold seats (SQLite), and BenchmarkMemberList the §31 list of the
// same cooperative.
func BenchmarkSyncOrganRoles(b *testing.B) {
	e, _ := organsFixture(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := e.Memberships.SyncOrganRoles(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemberList(b *testing.B) {
	e, who := organsFixture(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if l, err := e.Memberships.MemberList(ctx, models.Viewer{UserID: who.UserID}); err != nil || len(l) != 300 {
			b.Fatalf("%d, %v", len(l), err)
		}
	}
}

func organsFixture(b *testing.B) (*modelstest.MEnv, models.Actor) {
	db := modelstest.OpenSQLite(b)
	e := modelstest.NewMEnv(b, db)
	var first models.Actor
	for i := range 300 {
		who, _ := e.Member(b, fmt.Sprintf("m%d@example.org", i), fmt.Sprintf("Member %d", i), 1)
		if i == 0 {
			first = who
		}
		if i%10 == 0 {
			organ := []membership.Organ{membership.OrganBoard, membership.OrganSupervisoryBoard, membership.OrganAppealsCommittee}[i/10%3]
			if _, err := e.Memberships.Organs().Appoint(context.Background(), e.Board1, membership.AppointInput{Organ: organ, UserID: who.UserID,
				TermStart: e.Clock.Now(), TermEnd: e.Clock.Now().Add(365 * 24 * time.Hour), Source: membership.SourceElection, Reference: "GA"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return e, first
}
