package models_test

import (
	"testing"

	"allmende/models"
)

// TestInvalidWith: a message with parts filled in is kept for translation
// only while its field still says it; a field a later check overwrote
// with a fixed message, and a field without a message, keep none.
func TestInvalidWith(t *testing.T) {
	dup := models.Msgf("%s is named twice.", "Carla")
	e := models.InvalidWith(map[string]string{"candidates": dup.String(), "seats": "Enter the number of seats, from 1 to 100.", "title": "Give the item a title."},
		map[string]models.Msg{"candidates": dup, "seats": models.Msgf("at most %d", 100), "file": {}})
	if e.Code != 422 || e.Fields["candidates"] != "Carla is named twice." {
		t.Fatalf("error: %+v", e)
	}
	if m, ok := e.Msgs["candidates"]; !ok || m.Format != "%s is named twice." {
		t.Errorf("the duplicate's message is not kept for translation: %+v", e.Msgs)
	}
	for _, f := range []string{"seats", "file", "title"} {
		if _, ok := e.Msgs[f]; ok {
			t.Errorf("%s keeps a message it does not say: %+v", f, e.Msgs[f])
		}
	}
	if e := models.InvalidWith(map[string]string{"title": "Give the item a title."}, nil); e.Msgs != nil {
		t.Errorf("no messages with parts, yet Msgs = %+v", e.Msgs)
	}
}
