package handlers

import (
	"context"
	"errors"
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
