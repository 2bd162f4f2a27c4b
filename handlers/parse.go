// Parsing of dates and numbers typed into forms (money: money.go).

package handlers

import (
	"strconv"
	"strings"
	"time"
)

// parseDay reads a YYYY-MM-DD date.
func parseDay(s string) (time.Time, bool) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	return t, err == nil
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// parseMomentIn reads a datetime-local input as a time in loc (the
// cooperative's time zone for assemblies); blank is the zero time.
func parseMomentIn(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
