package account_test

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
)

// The unread count is kept in memory, but a notification written or read
// through this process shows in the very next count; one whose
// transaction rolled back never shows.
func TestUnreadCountFollowsWritesAtOnce(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a := account.NewAccounts(db)
		n := account.NewNotifications(db)
		ada := modelstest.Register(t, a, "ada@example.org")
		bob := modelstest.Register(t, a, "bob@example.org")
		unread := func(u *account.User, want int64) {
			t.Helper()
			got, err := n.Unread(ctx, u.ID)
			if err != nil || got != want {
				t.Fatalf("unread of %s = %d, %v; want %d", u.Email, got, err, want)
			}
		}
		notify := func(fail bool, ids ...string) {
			t.Helper()
			err := db.Tx(ctx, func(tx *gorm.DB) error {
				if err := account.NotifyMany(tx, ids, account.KindVotes, "/assemblies", models.Msgf("Voting opened")); err != nil {
					return err
				}
				if fail {
					return errors.New("the event failed")
				}
				return nil
			})
			if fail != (err != nil) {
				t.Fatalf("notify: %v", err)
			}
		}
		unread(ada, 0) // now in memory
		unread(bob, 0)
		notify(false, ada.ID)
		unread(ada, 1)
		notify(true, ada.ID, bob.ID)
		unread(ada, 1)
		unread(bob, 0)
		notify(false, ada.ID, bob.ID)
		unread(ada, 2)
		unread(bob, 1)

		page, err := n.List(ctx, ada.ID, 10)
		if err != nil || len(page.Items) != 2 {
			t.Fatalf("list = %+v, %v", page, err)
		}
		if err := n.MarkRead(ctx, ada.ID, page.Items[0].ID); err != nil {
			t.Fatal(err)
		}
		unread(ada, 1)
		if _, err := n.MarkAllRead(ctx, bob.ID); err != nil {
			t.Fatal(err)
		}
		unread(bob, 0)
		unread(ada, 1)
	})
}
