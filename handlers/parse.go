// Parsing of money, dates and numbers typed into forms.

package handlers

import (
	"strconv"
	"strings"
	"time"
)

// parseEuroCents reads "50", "50.5", "50.50" or "1,250.00" as cents.
func parseEuroCents(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "EUR"), "€")
	s = strings.TrimSpace(s)
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, false
	}
	var f int64
	if hasFrac {
		if len(frac) == 1 {
			frac += "0"
		}
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil || f < 0 {
			return 0, false
		}
	}
	return w*100 + f, true
}

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
