package views

import (
	"fmt"

	"allmende/models/metering"
	"allmende/models/replication"
)

// CommonsView is /commons.
type CommonsView struct {
	Capacity    *metering.Capacity
	Coop        *metering.Cooperative
	Coverage    []metering.CoverageMonth
	Replication []replication.HostHealth // nil without replication
}

// pct is a bar's value, capped so an overcommitted host fills the bar.
func pct(r metering.Resource, v float64) string {
	return fmt.Sprintf("%.0f", min(r.Percent(v), 100))
}

// amount prints a resource quantity with its unit.
func amount(v float64, unit string) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}

func percentText(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f %%", *p)
}

// milliQty prints a quantity in thousandths with three decimals.
func milliQty(q int64, unit string) string {
	sign := ""
	if q < 0 {
		sign, q = "-", -q
	}
	return fmt.Sprintf("%s%d.%03d %s", sign, q/1000, q%1000, unit)
}

// millicents prints a unit price in cents with up to three decimals.
func millicents(mc int64) string {
	return fmt.Sprintf("%d.%03d ct", mc/1000, mc%1000)
}

// BoardStatementsView is the board's page of a month.
type BoardStatementsView struct {
	Month      string
	Statements *metering.MonthStatements
	Costs      []metering.Cost
	Coverage   []metering.CoverageMonth
	CostForm   Form
	Categories []string
}
