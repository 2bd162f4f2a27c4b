package membership_test

import (
	"reflect"
	"testing"

	"allmende/models"
	"allmende/models/modelstest"
)

// TestStoredTextsKeepTheirMessage: the history details and the share
// ledger's notes the portal writes keep their English text (the record)
// and, read back from the database, the format and arguments the pages
// translate, numbers as ints a %d takes; a row from before has none.
func TestStoredTextsKeepTheirMessage(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := modelstest.NewMEnv(t, db)
		ada, _ := e.Member(t, "ada@example.org", "Ada Lovelace", 3)
		o := e.Overview(t, ada.UserID)
		want := map[string]models.Msg{
			"applied for 3 shares":               models.Msgf("applied for %d shares", 3),
			"admitted as member 1 with 3 shares": models.Msgf("admitted as member %d with %d shares", 1, 3),
		}
		if len(o.History) != len(want) {
			t.Fatalf("history = %+v", o.History)
		}
		for _, ev := range o.History {
			m, ok := want[ev.Detail]
			if !ok {
				t.Errorf("unexpected detail %q", ev.Detail)
				continue
			}
			if !reflect.DeepEqual(ev.DetailMsg, m) || ev.DetailMsg.String() != ev.Detail {
				t.Errorf("%q: message %#v, want %#v", ev.Detail, ev.DetailMsg, m)
			}
		}
		if len(o.ShareLedger) != 1 || o.ShareLedger[0].Note != "admission" || o.ShareLedger[0].NoteMsg.Format != "admission" {
			t.Errorf("share ledger = %+v", o.ShareLedger)
		}

		// A row written before the message was kept is shown as stored.
		if err := db.Gorm.Exec("UPDATE membership_events SET detail_msg = '' WHERE detail = ?", "applied for 3 shares").Error; err != nil {
			t.Fatal(err)
		}
		for _, ev := range e.Overview(t, ada.UserID).History {
			if ev.Detail == "applied for 3 shares" && ev.DetailMsg.Format != "" {
				t.Errorf("an old row reads back a message: %#v", ev.DetailMsg)
			}
		}
	})
}
