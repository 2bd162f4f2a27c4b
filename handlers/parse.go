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

// parseMoment reads a datetime-local input (or YYYY-MM-DD HH:MM) as UTC;
// blank is the zero time, which the domain reports as missing.
func parseMoment(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
