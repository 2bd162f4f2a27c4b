package kit

import "time"

func UTCNow() time.Time { return time.Now().UTC() }

// dateOf returns the calendar day of t (in t's own location) as midnight
// UTC, the form in which the domain stores dates, so a date compares and
// round-trips the same on SQLite and PostgreSQL.
func DateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// addMonths adds n months to a date, clamping to the last day of the target
// month: a period of one month from 31 January ends on 28 (or 29) February
// (§188(3) BGB), where time.AddDate would run on into March.
func AddMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}
