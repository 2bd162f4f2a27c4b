package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
