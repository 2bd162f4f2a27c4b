package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Bytes formats a size in binary units, as libvirt and virsh count.
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// When formats a time for tables, in UTC so that every reader sees the same.
func When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// WhenIn formats a time in the named time zone (the cooperative's, for
// the times of an assembly), naming the zone; UTC when tz is empty.
func WhenIn(t time.Time, tz string) string {
	if t.IsZero() {
		return "—"
	}
	loc, err := time.LoadLocation(tz)
	if tz == "" || err != nil {
		return When(t)
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return When(*t)
}

// EUR formats integer cents as euros, e.g. "EUR 1,250.00"; money is never
// a float anywhere in the portal.
func EUR(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	whole, frac := cents/100, cents%100
	s := fmt.Sprintf("%d", whole)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return fmt.Sprintf("EUR %s%s.%02d", sign, s, frac)
}

// Day formats a calendar date.
func Day(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02")
}

// DayPtr formats an optional date.
func DayPtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return Day(*t)
}

func itoa(n int) string { return strconv.Itoa(n) }

// capitalFirst upper-cases the first letter, for a phrase that starts a sentence.
func capitalFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
