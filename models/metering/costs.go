package metering

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/internal/kit"
)

// CostCategories are what the board enters running costs as.
var CostCategories = []string{"servers", "depreciation", "housing", "bandwidth", "staff", "other"}

// Cost is one entry of the running costs; entries are never changed, a
// wrong one is reversed by a new entry.
type Cost struct {
	ID          string    `json:"id"`
	Month       string    `json:"month"`
	Category    string    `json:"category"`
	AmountCents int64     `json:"amount_cents"`
	Note        string    `json:"note"`
	ReversesID  *string   `json:"reverses_id,omitempty"`
	CreatedBy   string    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
}

func (Cost) TableName() string { return "running_costs" }

// CostInput is what the board submits; the handler has parsed the amount.
type CostInput struct {
	Month       string
	Category    string
	AmountCents int64
	AmountValid bool // false: the amount was not a number
	Note        string
}

func (in *CostInput) validate() (fields map[string]string, msgs map[string]models.Msg) {
	fields, msgs = map[string]string{}, map[string]models.Msg{}
	if _, err := ParseMonth(in.Month); err != nil {
		fields["month"] = "Enter the month as YYYY-MM."
	}
	ok := false
	for _, c := range CostCategories {
		ok = ok || c == in.Category
	}
	if !ok {
		msgs["category"] = models.Msgf("Choose one of: %s.", strings.Join(CostCategories, ", "))
	}
	switch {
	case !in.AmountValid:
		fields["amount"] = "Enter an amount such as 1234.50."
	case in.AmountCents <= 0:
		fields["amount"] = "Costs are positive; to correct an entry, reverse it."
	case in.AmountCents > 100_000_000:
		fields["amount"] = "Enter at most 1,000,000.00 per entry."
	}
	in.Note = strings.TrimSpace(in.Note)
	if kit.UTF8Len(in.Note) > 200 {
		fields["note"] = "Keep the note under 200 characters."
	}
	kit.NoControl(fields, "note", in.Note, false)
	return fields, msgs
}

// AddCost records a month's running cost (board only).
func (c *Commons) AddCost(ctx context.Context, actor models.Actor, v models.Viewer, in CostInput) (*Cost, error) {
	if fields, msgs := in.validate(); len(fields)+len(msgs) > 0 {
		return nil, models.InvalidFields(fields, msgs)
	}
	cost := &Cost{ID: kit.NewID(), Month: in.Month, Category: in.Category, AmountCents: in.AmountCents, Note: in.Note,
		CreatedBy: actor.Email, CreatedAt: kit.UTCNow()}
	err := c.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireBoard(tx, v); err != nil {
			return err
		}
		if err := tx.Create(cost).Error; err != nil {
			return fmt.Errorf("insert cost: %w", err)
		}
		return kit.RecordAudit(tx, actor, "cost.add", "cost", cost.ID,
			map[string]any{"month": cost.Month, "category": cost.Category, "amount_cents": cost.AmountCents})
	})
	if err != nil {
		return nil, err
	}
	return cost, nil
}

// ReverseCost enters the negative of a cost entry, once.
func (c *Commons) ReverseCost(ctx context.Context, actor models.Actor, v models.Viewer, id string) error {
	return c.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireBoard(tx, v); err != nil {
			return err
		}
		var orig Cost
		if err := kit.First(tx, &orig, id, "cost entry"); err != nil {
			return err
		}
		if orig.ReversesID != nil {
			return models.Conflict("A reversal cannot be reversed; enter the cost again instead.")
		}
		rev := &Cost{ID: kit.NewID(), Month: orig.Month, Category: orig.Category, AmountCents: -orig.AmountCents,
			Note: "reversal", ReversesID: &orig.ID, CreatedBy: actor.Email, CreatedAt: kit.UTCNow()}
		if err := tx.Create(rev).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("This entry has been reversed already.")
			}
			return fmt.Errorf("insert reversal: %w", err)
		}
		return kit.RecordAudit(tx, actor, "cost.reverse", "cost", orig.ID, nil)
	})
}

// Costs lists the entries of the last months, newest first (board page).
func (c *Commons) Costs(ctx context.Context, v models.Viewer, months int) ([]Cost, error) {
	db := c.db.Gorm.WithContext(ctx)
	if err := requireBoard(db, v); err != nil {
		return nil, err
	}
	since := MonthOf(c.clock.Now()).Start.AddDate(0, -months+1, 0).Format("2006-01")
	var out []Cost
	if err := db.Where("month >= ?", since).Order("month DESC, created_at DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list costs: %w", err)
	}
	return out, nil
}

func costsByMonth(db *gorm.DB, months []string) (map[string]int64, error) {
	var rows []struct {
		Month string
		Sum   int64
	}
	if err := db.Table("running_costs").Where("month IN ?", months).Group("month").
		Select("month, SUM(amount_cents) AS sum").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("sum costs: %w", err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Month] = r.Sum
	}
	return out, nil
}

// CoverageMonth is one month of costs against contributions.
type CoverageMonth struct {
	Month              string   `json:"month"`
	CostsCents         int64    `json:"costs_cents"`
	ContributionsCents int64    `json:"contributions_cents"`
	Closed             bool     `json:"closed"`
	Percent            *float64 `json:"coverage_percent"` // nil without costs
}

// Coverage is how far the members' contributions (their closed
// statements) covered the running costs, month by month, newest first.
func (c *Commons) Coverage(ctx context.Context, months int) ([]CoverageMonth, error) {
	db := c.db.Read.WithContext(ctx)
	cur := MonthOf(c.clock.Now())
	keys := make([]string, 0, months)
	for i := 0; i < months; i++ {
		keys = append(keys, Month{Start: cur.Start.AddDate(0, -i, 0)}.String())
	}
	costs, err := costsByMonth(db, keys)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Month string
		Sum   int64
	}
	if err := db.Raw(`SELECT s.month, COALESCE(SUM(l.amount_cents), 0) AS sum FROM statements s
		JOIN statement_lines l ON l.statement_id = s.id WHERE s.month IN ? GROUP BY s.month`, keys).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("sum contributions: %w", err)
	}
	contrib := map[string]int64{}
	for _, r := range rows {
		contrib[r.Month] = r.Sum
	}
	var closed []string
	if err := db.Table("metering_months").Where("month IN ?", keys).Pluck("month", &closed).Error; err != nil {
		return nil, err
	}
	isClosed := map[string]bool{}
	for _, m := range closed {
		isClosed[m] = true
	}
	out := make([]CoverageMonth, 0, months)
	for _, k := range keys {
		cm := CoverageMonth{Month: k, CostsCents: costs[k], ContributionsCents: contrib[k], Closed: isClosed[k]}
		if cm.CostsCents > 0 {
			p := float64(cm.ContributionsCents) / float64(cm.CostsCents) * 100
			cm.Percent = &p
		}
		out = append(out, cm)
	}
	return out, nil
}
