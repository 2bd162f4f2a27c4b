package membership_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/modelstest"
)

// TestMemberListForMembers: §31 GenG — names, addresses, shares and dates;
// no reasons, no bank data; and a copy of one's own entries.
func TestMemberListForMembers(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := modelstest.NewMEnv(t, db)
		ada, _ := e.Member(t, "ada@example.org", "Ada Lovelace", 2)
		_, b := e.Member(t, "bob@example.org", "Bob Builder", 1)
		outsider := e.User(t, "outsider@example.org")
		_, err := e.Memberships.MemberList(ctx, models.Viewer{UserID: outsider.UserID})
		modelstest.WantCode(t, err, http.StatusForbidden)

		e.ExcludeByLetter(t, b.ID)
		e.Clock.Set(time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC))
		if _, err := e.Memberships.ProcessDueExclusions(ctx); err != nil {
			t.Fatal(err)
		}
		list, err := e.Memberships.MemberList(ctx, models.Viewer{UserID: ada.UserID})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Name != "Ada Lovelace" || list[0].Shares != 2 || list[0].City != "Berlin" ||
			list[1].LeftOn == nil || !list[1].LeftOn.Equal(modelstest.Day(2026, 12, 31)) || list[1].Shares != 0 {
			t.Fatalf("member list = %+v", list)
		}
		if dump := fmt.Sprintf("%+v", list); strings.Contains(dump, "DE89") || strings.Contains(dump, "exclusion") || strings.Contains(dump, "reminders") {
			t.Errorf("the member list shows bank data or reasons: %s", dump)
		}
		text, err := e.Memberships.OwnEntries(ctx, ada.UserID)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Member number: 1", "Name: Ada Lovelace", "Admitted: 2026-03-15", "Shares held: 2", "admitted"} {
			if !strings.Contains(text, want) {
				t.Errorf("own entries lack %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "DE89") {
			t.Error("the copy of the list entries holds the IBAN")
		}
	})
}
