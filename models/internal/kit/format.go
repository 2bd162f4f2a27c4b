package kit

import (
	"fmt"
	"time"
)

// formatCents renders an amount of money for people, e.g. "50.00 EUR".
func FormatCents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d EUR", sign, c/100, c%100)
}

func FormatDate(t time.Time) string { return t.Format("2006-01-02") }
