package models_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"allmende/i18n"
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

// TestListArgument: a list of messages inside a message reads "a, b and c"
// in English and is translated part by part, joined with the language's
// "and", in German.
func TestListArgument(t *testing.T) {
	short := models.List{models.Msgf("%d vCPUs of %d", 3, 2), models.Msgf("%d MiB memory of %d", 4096, 2048), models.Msgf("%d GiB disk of %d", 30, 20)}
	m := models.Msgf("This would exceed what your paid shares entitle you to: your virtual machines would use %s. "+
		"Choose a smaller plan, delete a virtual machine, or subscribe more shares.", short[:2])
	en := "This would exceed what your paid shares entitle you to: your virtual machines would use 3 vCPUs of 2 and 4096 MiB memory of 2048. " +
		"Choose a smaller plan, delete a virtual machine, or subscribe more shares."
	if got := m.String(); got != en {
		t.Errorf("English:\n got %q\nwant %q", got, en)
	}
	de := i18n.WithLocale(context.Background(), i18n.NewLocale(i18n.German, nil))
	want := "Das überschreitet, was Ihnen Ihre eingezahlten Geschäftsanteile zugestehen: Ihre virtuellen Maschinen würden " +
		"3 vCPUs von 2 und 4096 MiB Arbeitsspeicher von 2048 belegen. Wählen Sie einen kleineren Tarif, löschen Sie eine virtuelle Maschine oder zeichnen Sie weitere Anteile."
	if got := m.Text(de); got != want {
		t.Errorf("German:\n got %q\nwant %q", got, want)
	}
	for _, c := range []struct {
		list   models.List
		en, de string
	}{
		{short[:1], "3 vCPUs of 2", "3 vCPUs von 2"},
		{short, "3 vCPUs of 2, 4096 MiB memory of 2048 and 30 GiB disk of 20", "3 vCPUs von 2, 4096 MiB Arbeitsspeicher von 2048 und 30 GiB Festplatte von 20"},
	} {
		if got := c.list.String(); got != c.en {
			t.Errorf("English list %q, want %q", got, c.en)
		}
		if got := models.Msgf("%s", c.list).Text(de); got != c.de {
			t.Errorf("German list %q, want %q", got, c.de)
		}
	}
}

// A Moment reads as date and time even at midnight UTC, where a plain
// time.Time is a day; it is stored and read back as a Moment.
func TestMomentArgument(t *testing.T) {
	midnight := time.Date(2026, 12, 16, 0, 0, 0, 0, time.UTC)
	m := models.Msgf("Voting starts at %s; open it then.", models.Moment(midnight))
	if got, want := m.String(), "Voting starts at 2026-12-16 00:00 UTC; open it then."; got != want {
		t.Errorf("English %q, want %q", got, want)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	de := i18n.WithLocale(context.Background(), i18n.NewLocale(i18n.German, berlin))
	if got := m.Text(de); !strings.Contains(got, "16.12.2026") || !strings.Contains(got, "01:00") {
		t.Errorf("German %q: want the moment in Berlin, 16.12.2026 01:00", got)
	}
	if day := models.Msgf("%s", midnight).Text(de); day != "16.12.2026" {
		t.Errorf("a day reads %q", day)
	}
	v, err := m.Value()
	if err != nil {
		t.Fatal(err)
	}
	var back models.Msg
	if err := back.Scan(v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("read back %#v, want %#v", back, m)
	}
}
