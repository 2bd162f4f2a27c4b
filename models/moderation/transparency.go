package moderation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"allmende/models"
)

// Quarterly is the members' transparency report of one quarter: counts
// only, no names, no addresses, no VMs.
type Quarterly struct {
	Year, Quarter      int
	From, To           time.Time
	ReportsByCategory  map[string]int `json:"reports_by_category"`
	ExternalReports    int            `json:"external_reports"`
	SanctionsByStep    map[string]int `json:"sanctions_by_step"` // "2 throttle"
	Appeals            int            `json:"appeals"`
	AppealsByOutcome   map[string]int `json:"appeals_by_outcome"`
	Cases              int            `json:"cases"`
	CasesActedOn       int            `json:"cases_acted_on"`
	MedianFirstAction  time.Duration  `json:"-"`
	MedianFirstActionS int64          `json:"median_first_action_seconds"`
	// Prev and Next are the neighbouring quarters the report covers (nil
	// before the first quarter with any data and after the current one).
	Prev, Next *Period `json:"-"`
}

// Period is a quarter (1–4) of a year.
type Period struct{ Year, Quarter int }

// index counts quarters from year 0; only for periods within the report,
// whose years are small.
func (p Period) index() int { return p.Year*4 + p.Quarter - 1 }

// before compares without index, which a huge year would overflow.
func (p Period) before(o Period) bool {
	return p.Year < o.Year || p.Year == o.Year && p.Quarter < o.Quarter
}

func periodOf(t time.Time) Period { return Period{t.Year(), (int(t.Month())-1)/3 + 1} }

// Periods is the range the report covers: from the first quarter with a
// report, sanction, appeal or case (the current one while there is none)
// to the current quarter. The pages before and after would all be zeros.
func (m *Moderation) Periods(ctx context.Context) (first, last Period, err error) {
	now := m.now()
	last = periodOf(now)
	earliest := now
	db := m.db.Gorm.WithContext(ctx)
	for _, src := range []struct {
		model  any
		column string
	}{{&Report{}, "created_at"}, {&Sanction{}, "starts_at"}, {&Appeal{}, "created_at"}, {&Case{}, "first_report_at"}} {
		t, err := firstAt(db, src.model, src.column)
		if err != nil {
			return first, last, err
		}
		if t != nil && t.Before(earliest) {
			earliest = *t
		}
	}
	return periodOf(earliest.UTC()), last, nil
}

// Quarter returns the report of quarter q (1–4) of year, one of the
// quarters Periods covers; another is a 422 that names the range. Any
// signed-in member may read it.
func (m *Moderation) Quarter(ctx context.Context, year, q int) (*Quarterly, error) {
	if q < 1 || q > 4 {
		return nil, models.Invalidf("quarter", "Choose a quarter from 1 to 4.")
	}
	first, last, err := m.Periods(ctx)
	if err != nil {
		return nil, err
	}
	at := Period{year, q}
	if at.before(first) || last.before(at) {
		return nil, models.Invalidf("quarter", "There are no numbers for %d Q%d: the report covers %d Q%d to %d Q%d.",
			year, q, first.Year, first.Quarter, last.Year, last.Quarter)
	}
	from := time.Date(year, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 3, 0)
	db := m.db.Gorm.WithContext(ctx)
	r := &Quarterly{Year: year, Quarter: q, From: from, To: to, ReportsByCategory: map[string]int{},
		SanctionsByStep: map[string]int{}, AppealsByOutcome: map[string]int{}}
	if first.before(at) {
		r.Prev = &Period{(at.index() - 1) / 4, (at.index()-1)%4 + 1}
	}
	if at.before(last) {
		r.Next = &Period{(at.index() + 1) / 4, (at.index()+1)%4 + 1}
	}
	var reports []Report
	if err := db.Select("category, source").Where("created_at >= ? AND created_at < ?", from, to).Find(&reports).Error; err != nil {
		return nil, fmt.Errorf("count reports: %w", err)
	}
	for _, x := range reports {
		r.ReportsByCategory[x.Category]++
		if x.Source == SourceExternal {
			r.ExternalReports++
		}
	}
	var sanctions []Sanction
	if err := db.Select("step, kind").Where("starts_at >= ? AND starts_at < ?", from, to).Find(&sanctions).Error; err != nil {
		return nil, fmt.Errorf("count sanctions: %w", err)
	}
	for _, s := range sanctions {
		r.SanctionsByStep[fmt.Sprintf("%d %s", s.Step, s.Kind)]++
	}
	var appeals []Appeal
	if err := db.Select("state").Where("created_at >= ? AND created_at < ?", from, to).Find(&appeals).Error; err != nil {
		return nil, fmt.Errorf("count appeals: %w", err)
	}
	for _, a := range appeals {
		r.Appeals++
		r.AppealsByOutcome[a.State]++
	}
	var cases []Case
	if err := db.Select("first_report_at, first_action_at").Where("first_report_at >= ? AND first_report_at < ?", from, to).Find(&cases).Error; err != nil {
		return nil, fmt.Errorf("count cases: %w", err)
	}
	var waits []time.Duration
	for _, c := range cases {
		r.Cases++
		if c.FirstActionAt != nil {
			waits = append(waits, c.FirstActionAt.Sub(c.FirstReportAt))
		}
	}
	r.CasesActedOn = len(waits)
	if len(waits) > 0 {
		slices.Sort(waits)
		mid := len(waits) / 2
		r.MedianFirstAction = waits[mid]
		if len(waits)%2 == 0 {
			r.MedianFirstAction = (waits[mid-1] + waits[mid]) / 2
		}
		r.MedianFirstActionS = int64(r.MedianFirstAction / time.Second)
	}
	return r, nil
}

// firstAt is the earliest value of column in model's table, nil when it is
// empty.
func firstAt(db *gorm.DB, model any, column string) (*time.Time, error) {
	var out []time.Time
	if err := db.Model(model).Order(column).Limit(1).Pluck(column, &out).Error; err != nil {
		return nil, fmt.Errorf("first %s: %w", column, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return &out[0], nil
}

// CurrentQuarter is the year and quarter of today.
func (m *Moderation) CurrentQuarter() (int, int) {
	now := m.now()
	return now.Year(), (int(now.Month())-1)/3 + 1
}
