package kit

import (
	"time"

	"allmende/models"
)

// formatCents renders an amount of money for people, e.g. "50.00 EUR".
func FormatCents(c int64) string {
	return models.Cents(c).String()
}

func FormatDate(t time.Time) string { return t.Format("2006-01-02") }
