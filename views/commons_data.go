package views

import (
	"context"
	"fmt"
	"strings"

	"allmende/i18n"
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

// decimalComma writes a number formatted with a decimal point the way the
// reader's language writes it (1,25 in German).
func decimalComma(ctx context.Context, s string) string {
	if i18n.From(ctx).Lang == i18n.German {
		return strings.Replace(s, ".", ",", 1)
	}
	return s
}

// amount prints a resource quantity with its unit.
func amount(ctx context.Context, v float64, unit string) string {
	format := "%.2f %s"
	switch {
	case v >= 100:
		format = "%.0f %s"
	case v >= 10:
		format = "%.1f %s"
	}
	return decimalComma(ctx, fmt.Sprintf(format, v, unit))
}

// percent prints a share in whole percent.
func percent(p float64) string {
	return fmt.Sprintf("%.0f %%", p)
}

func percentText(p *float64) string {
	if p == nil {
		return "–"
	}
	return percent(*p)
}

// milliQty prints a quantity in thousandths with three decimals, in the
// reader's language, with its unit (units in words are translated).
func milliQty(ctx context.Context, q int64, unit string) string {
	sign := ""
	if q < 0 {
		sign, q = "-", -q
	}
	return decimalComma(ctx, fmt.Sprintf("%s%d.%03d", sign, q/1000, q%1000)) + " " + lineUnit(ctx, unit)
}

// lineUnit is a statement line's unit for people.
func lineUnit(ctx context.Context, unit string) string {
	if unit == "GiB-month" {
		return i18n.T(ctx, "GiB-month")
	}
	return unit
}

// millicents prints a unit price in cents with up to three decimals.
func millicents(ctx context.Context, mc int64) string {
	return decimalComma(ctx, fmt.Sprintf("%d.%03d", mc/1000, mc%1000)) + " ct"
}

// lineDescription is a statement line's description in the reader's
// language: the lines the portal makes are stored in English, a board's
// correction as the board wrote it.
func lineDescription(ctx context.Context, l metering.StatementLine) string {
	switch l.Kind {
	case metering.LineDisk, metering.LineTraffic:
		return i18n.T(ctx, l.Description)
	case metering.LineVMHours:
		if plan, ok := strings.CutPrefix(l.Description, "VM-hours, plan "); ok {
			return i18n.T(ctx, "VM-hours, plan %s", plan)
		}
	}
	return l.Description
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

// costCategory is a category of running costs for people.
func costCategory(ctx context.Context, c string) string {
	switch c {
	case "servers":
		return i18n.T(ctx, "servers")
	case "depreciation":
		return i18n.T(ctx, "depreciation")
	case "housing":
		return i18n.T(ctx, "housing")
	case "bandwidth":
		return i18n.T(ctx, "bandwidth")
	case "staff":
		return i18n.T(ctx, "staff")
	}
	// "other" alone is a reserved word of go-i18n's catalogue.
	return i18n.T(ctx, "other costs")
}
