package models_test

import (
	"reflect"
	"testing"
	"time"

	"allmende/models"
)

// TestMsgStored: a message goes into its column as JSON and comes back the
// same, with whole numbers as int, fractions as float64 and a message
// among its arguments as a Msg again; a zero message is ” and ” reads
// back as zero (a row from before).
func TestMsgStored(t *testing.T) {
	m := models.Msgf("appointed to the %s from %s to %s (%d, %v)", models.Msgf("board"), "2026-01-01", "2029-12-31", 3, 1.5)
	v, err := m.Value()
	if err != nil {
		t.Fatal(err)
	}
	var back models.Msg
	if err := back.Scan([]byte(v.(string))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("read back %#v, want %#v", back, m)
	}
	if back.String() != "appointed to the board from 2026-01-01 to 2029-12-31 (3, 1.5)" {
		t.Errorf("English: %q", back.String())
	}
	typed := models.Msgf("%s on %s at %s: %s", models.Cents(-1250), time.Date(2026, 12, 16, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 16, 14, 30, 5, 7, time.UTC), models.List{models.Msgf("board"), models.Msgf("%d vCPUs", 2)})
	v, err = typed.Value()
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Scan(v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, typed) {
		t.Errorf("typed arguments read back %#v, want %#v", back, typed)
	}
	if v, err := (models.Msg{}).Value(); err != nil || v != "" {
		t.Errorf("zero message stored as %#v, %v", v, err)
	}
	back = models.Msgf("stale")
	if err := back.Scan(""); err != nil || back.Format != "" || back.Args != nil {
		t.Errorf("'' read as %#v, %v", back, err)
	}
	if err := back.Scan("{not json"); err == nil {
		t.Error("a broken column reads without an error")
	}
}
