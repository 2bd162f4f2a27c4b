package membership

import (
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"time"
)

// NoticeEffectiveDate is the day a notice given on today takes effect: the
// first end of a business year at least the notice period after today, since
// a member can leave only at the end of a business year (§65 GenG).
func NoticeEffectiveDate(today time.Time, p rulebook.RuleParams) time.Time {
	today = kit.DateOf(today)
	earliest := kit.AddMonths(today, p.NoticePeriodMonths)
	for y := earliest.Year() - 1; ; y++ {
		// A business year ends the day before the next one starts.
		end := time.Date(y, time.Month(p.BusinessYearStartMonth), p.BusinessYearStartDay, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
		if !end.Before(earliest) {
			return end
		}
	}
}

// BusinessYearEnd is the last day of the business year that day falls in:
// an exclusion takes effect then (§68(1) GenG).
func BusinessYearEnd(day time.Time, p rulebook.RuleParams) time.Time {
	day = kit.DateOf(day)
	for y := day.Year() - 1; ; y++ {
		end := time.Date(y+1, time.Month(p.BusinessYearStartMonth), p.BusinessYearStartDay, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
		if !end.Before(day) {
			return end
		}
	}
}
