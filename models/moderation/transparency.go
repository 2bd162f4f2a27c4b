package moderation

import (
	"allmende/models"
	"context"
	"fmt"
	"slices"
	"time"
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
}

// Quarter returns the report of quarter q (1–4) of year. Any signed-in
// member may read it.
func (m *Moderation) Quarter(ctx context.Context, year, q int) (*Quarterly, error) {
	if q < 1 || q > 4 || year < 2000 || year > 9999 {
		return nil, models.Invalid(map[string]string{"quarter": "Choose a quarter 1 to 4 of a year from 2000."})
	}
	from := time.Date(year, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 3, 0)
	db := m.db.Gorm.WithContext(ctx)
	r := &Quarterly{Year: year, Quarter: q, From: from, To: to, ReportsByCategory: map[string]int{},
		SanctionsByStep: map[string]int{}, AppealsByOutcome: map[string]int{}}
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

// CurrentQuarter is the year and quarter of today.
func (m *Moderation) CurrentQuarter() (int, int) {
	now := m.now()
	return now.Year(), (int(now.Month())-1)/3 + 1
}
