package modelstest

import (
	"encoding/json"
	"strings"
	"testing"

	"allmende/models"
)

// LastMail is the newest mail queued to an address whose key starts with
// key: its subject and body.
func LastMail(t *testing.T, db *models.DB, to, key string) (subject, body string) {
	t.Helper()
	args := "CAST(args AS TEXT)"
	if db.Dialect == models.SQLite {
		args = "json(args)" // River stores JSONB there
	}
	var raws []string
	if err := db.Gorm.Raw("SELECT " + args + " FROM river_job WHERE kind = 'mail.send' ORDER BY id DESC").Scan(&raws).Error; err != nil {
		t.Fatal(err)
	}
	for _, raw := range raws {
		var m struct{ To, Subject, Body, Key string }
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("mail job %q: %v", raw, err)
		}
		if m.To == to && strings.HasPrefix(m.Key, key) {
			return m.Subject, m.Body
		}
	}
	t.Fatalf("no mail %s… to %s", key, to)
	return "", ""
}

// SetLocale sets an account's language and time zone, as its account page
// does.
func SetLocale(t *testing.T, db *models.DB, userID, lang, tz string) {
	t.Helper()
	if err := db.Gorm.Exec("UPDATE users SET language = ?, time_zone = ? WHERE id = ?", lang, tz, userID).Error; err != nil {
		t.Fatal(err)
	}
}
