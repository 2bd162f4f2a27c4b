package i18n

import (
	"testing"
	"time"
)

// TestTextsAsLocalize: T reads German from the table built at load time;
// for every message of the catalogue, and for one it lacks, that must be
// what go-i18n's Localize gives (the table is only a cache of it).
func TestTextsAsLocalize(t *testing.T) {
	c := loaded()
	de := NewLocale(German, time.UTC)
	if len(de.texts) == 0 {
		t.Fatal("no German texts loaded")
	}
	ids := []string{"this message is in no catalogue"}
	for id := range c.texts[German] {
		ids = append(ids, id)
	}
	direct := &Locale{Lang: German, Location: time.UTC, loc: c.localizers[German]} // no table: Localize
	for _, id := range ids {
		if got, want := de.T(id), direct.T(id); got != want {
			t.Errorf("T(%q) = %q, Localize gives %q", id, got, want)
		}
	}
	if got := de.T("Log in"); got == "Log in" {
		t.Errorf(`T("Log in") in German is still English`)
	}
}
