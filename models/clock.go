package models

import (
	"sync"
	"time"
)

// Clock tells the membership domain what time it is. Notice periods, due
// dates and rule versions all depend on "today", so tests pass a clock they
// can move instead of waiting for a business year to end.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// dateOf returns the calendar day of t (in t's own location) as midnight
// UTC, the form in which the domain stores dates, so a date compares and
// round-trips the same on SQLite and PostgreSQL.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// addMonths adds n months to a date, clamping to the last day of the target
// month: a period of one month from 31 January ends on 28 (or 29) February
// (§188(3) BGB), where time.AddDate would run on into March.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

// NoticeEffectiveDate is the day a notice given on today takes effect: the
// first end of a business year at least the notice period after today, since
// a member can leave only at the end of a business year (§65 GenG).
func NoticeEffectiveDate(today time.Time, p RuleParams) time.Time {
	today = dateOf(today)
	earliest := addMonths(today, p.NoticePeriodMonths)
	for y := earliest.Year() - 1; ; y++ {
		// A business year ends the day before the next one starts.
		end := time.Date(y, time.Month(p.BusinessYearStartMonth), p.BusinessYearStartDay, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
		if !end.Before(earliest) {
			return end
		}
	}
}

// ManualClock is a clock that stands still until moved. End-to-end tests
// hand it to the server to let a notice period pass in an instant.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock starts at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
