package handlers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"allmende/i18n"
	"allmende/models"
)

// A domain message with parts filled in reaches a German reader in German,
// with its numbers; the English text stays the error's Safe message.
func TestDomainMessagesTranslated(t *testing.T) {
	de := i18n.WithLocale(context.Background(), i18n.NewLocale(i18n.German, time.UTC))
	en := i18n.WithLocale(context.Background(), i18n.NewLocale(i18n.English, time.UTC))
	err := models.Conflictf("This booking would leave %d shares; a share balance cannot be negative.", -2)
	if got, want := errText(de, err), "Nach dieser Buchung blieben -2 Anteile; ein Anteilsbestand kann nicht negativ sein."; got != want {
		t.Errorf("German: %q, want %q", got, want)
	}
	if got, want := errText(en, err), "This booking would leave -2 shares; a share balance cannot be negative."; got != want {
		t.Errorf("English: %q, want %q", got, want)
	}
	if err.Safe != "This booking would leave -2 shares; a share balance cannot be negative." {
		t.Errorf("Safe = %q", err.Safe)
	}
	field := models.Invalidf("shares", "You hold %d shares not under notice.", 3)
	var de2 *models.Error
	if !errors.As(error(field), &de2) {
		t.Fatal("not a domain error")
	}
	if got := fieldTexts(de, de2)["shares"]; got != "Sie halten 3 nicht gekündigte Anteile." {
		t.Errorf("German field: %q", got)
	}
	if got := field.Fields["shares"]; got != "You hold 3 shares not under notice." {
		t.Errorf("English field: %q", got)
	}
	// A fixed message is left to the view, which translates it.
	if got := errText(de, models.Conflict("This membership has already ended.")); got != "This membership has already ended." {
		t.Errorf("fixed message: %q", got)
	}
}

// Dates and amounts passed typed into a domain message are written the
// reader's way in German and read as before in English: a day stays the
// same day in a zone west of UTC, a moment is shown in the reader's zone.
func TestDomainMessageDatesAndMoney(t *testing.T) {
	west := time.FixedZone("UTC-5", -5*3600)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 16, 0, 0, 0, 0, time.UTC)
	paid := models.ErrorMsg(409, models.Msgf("Your payment of %s, received on %s, has been booked on your shares.", models.Cents(5000), day))
	for _, tc := range []struct {
		ctx  context.Context
		want string
	}{
		{i18n.WithLocale(context.Background(), i18n.NewLocale(i18n.German, west)),
			"Ihre Zahlung über 50,00 €, eingegangen am 16.12.2026, wurde auf Ihre Geschäftsanteile gebucht."},
		{i18n.WithLocale(context.Background(), i18n.NewLocale(i18n.English, west)),
			"Your payment of 50.00 EUR, received on 2026-12-16, has been booked on your shares."},
	} {
		if got := errText(tc.ctx, paid); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	if paid.Safe != "Your payment of 50.00 EUR, received on 2026-12-16, has been booked on your shares." {
		t.Errorf("Safe = %q", paid.Safe)
	}

	moment := models.Conflictf("The appeal period of this sanction ended on %s.", time.Date(2026, 12, 16, 14, 30, 0, 0, time.UTC))
	de := i18n.WithLocale(context.Background(), i18n.NewLocale(i18n.German, berlin))
	if got := errText(de, moment); !strings.Contains(got, "16.12.2026, 15:30 CET") || strings.Contains(got, "ended on") {
		t.Errorf("German moment: %q", got)
	}
	if moment.Safe != "The appeal period of this sanction ended on 2026-12-16 14:30 UTC." {
		t.Errorf("Safe = %q", moment.Safe)
	}

	// The length check of free text writes a plain field message; it is
	// translated with its number all the same.
	long := models.Invalid(map[string]string{"title": models.TooLong(200).String(), "name": "This is too long (at most 2x characters)."})
	fields := fieldTexts(de, long)
	if got := fields["title"]; got != "Das ist zu lang (höchstens 200 Zeichen)." {
		t.Errorf("German length message: %q", got)
	}
	if got := fields["name"]; got != "This is too long (at most 2x characters)." {
		t.Errorf("a text that only looks like it: %q", got)
	}
}
