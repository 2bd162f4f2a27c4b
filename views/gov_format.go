package views

import (
	"context"
	"time"

	"allmende/i18n"
)

// DateTimeIn formats a moment of an assembly in the cooperative's time
// zone tz (the same moment for every member, named by its zone), written
// the way the reader's language writes dates: "5.12.2026, 13:03 CET" or
// "5 Dec 2026, 13:03 CET". An unknown or empty zone is UTC.
func DateTimeIn(ctx context.Context, t time.Time, tz string) string {
	if t.IsZero() {
		return "—"
	}
	loc, err := time.LoadLocation(tz)
	if tz == "" || err != nil {
		loc = time.UTC
	}
	t = t.In(loc)
	if i18n.From(ctx).Lang == i18n.German {
		return t.Format("2.1.2006, 15:04 MST")
	}
	return t.Format("2 Jan 2006, 15:04 MST")
}

func dateTimeInPtr(ctx context.Context, t *time.Time, tz string) string {
	if t == nil {
		return i18n.T(ctx, "not yet")
	}
	return DateTimeIn(ctx, *t, tz)
}
