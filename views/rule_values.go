package views

import (
	"context"
	"strconv"
	"strings"

	"allmende/i18n"
	"allmende/models/rulebook"
)

// ruleUnit says how a parameter's stored number reads to a person.
type ruleUnit int

const (
	unitPlain ruleUnit = iota
	unitCents
	unitMillicents
	unitDays
	unitMonths
	unitHours
	unitSeconds
	unitPercent
	unitMiB
	unitGiB
	unitKiBps
)

var ruleUnits = map[string]ruleUnit{
	rulebook.RuleSharePriceCents:            unitCents,
	rulebook.RulePriceDiskGiBMonth:          unitCents,
	rulebook.RulePriceTrafficGiB:            unitCents,
	rulebook.RulePriceVCPUHour:              unitMillicents,
	rulebook.RulePriceMemoryGiBHour:         unitMillicents,
	rulebook.RuleNoticePeriodMonths:         unitMonths,
	rulebook.RuleAssemblyNoticeDays:         unitDays,
	rulebook.RuleInvitationReceiptDays:      unitDays,
	rulebook.RuleExclusionHearingDays:       unitDays,
	rulebook.RuleModerationStrikeDays:       unitDays,
	rulebook.RuleModerationAppealDays:       unitDays,
	rulebook.RuleModerationConfirmHours:     unitHours,
	rulebook.RuleReplicationIntervalSeconds: unitSeconds,
	rulebook.RuleProposalSupportPercent:     unitPercent,
	rulebook.RuleModerationThrottleCPU:      unitPercent,
	rulebook.RuleEntitlementMemory:          unitMiB,
	rulebook.RuleEntitlementDisk:            unitGiB,
	rulebook.RuleModerationThrottleDisk:     unitKiBps,
}

// IsMoneyRule reports whether a parameter counts cents, so that a form
// asks for euros instead.
func IsMoneyRule(key string) bool { return ruleUnits[key] == unitCents }

// RuleValue is a parameter's value as a person reads it: euros rather than
// cents, "30 days", "2 GiB"; a value that is not a number stays as it is.
func RuleValue(ctx context.Context, key, value string) string {
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return value
	}
	num := i18n.Number(ctx, n)
	switch ruleUnits[key] {
	case unitCents:
		return i18n.Money(ctx, n)
	case unitMillicents:
		return millicentsText(ctx, n)
	case unitDays:
		return i18n.N(ctx, "%d day", "%d days", int(n))
	case unitMonths:
		return i18n.N(ctx, "%d month", "%d months", int(n))
	case unitHours:
		return i18n.N(ctx, "%d hour", "%d hours", int(n))
	case unitSeconds:
		if n >= 60 && n%60 == 0 {
			return i18n.N(ctx, "%d minute", "%d minutes", int(n/60))
		}
		return i18n.N(ctx, "%d second", "%d seconds", int(n))
	case unitPercent:
		return num + " %"
	case unitMiB:
		if n >= 1024 && n%1024 == 0 {
			return i18n.Number(ctx, n/1024) + " GiB"
		}
		return num + " MiB"
	case unitGiB:
		return num + " GiB"
	case unitKiBps:
		return num + " KiB/s"
	}
	return num
}

// millicentsText formats thousandths of a cent as euros with as many decimals
// as the price has (a vCPU-hour costs fractions of a cent).
func millicentsText(ctx context.Context, n int64) string {
	if n%1000 == 0 {
		return i18n.Money(ctx, n/1000)
	}
	s := strconv.FormatFloat(float64(n)/100000, 'f', 5, 64)
	s = strings.TrimRight(s, "0")
	if i18n.From(ctx).Lang == i18n.German {
		return strings.Replace(s, ".", ",", 1) + " €"
	}
	return "€" + s
}

// RuleInputUnit is what the proposal form asks a new value in.
func RuleInputUnit(ctx context.Context, key string) string {
	switch ruleUnits[key] {
	case unitCents:
		return i18n.T(ctx, "euros")
	case unitMillicents:
		return i18n.T(ctx, "thousandths of a cent")
	case unitDays:
		return i18n.T(ctx, "days")
	case unitMonths:
		return i18n.T(ctx, "months")
	case unitHours:
		return i18n.T(ctx, "hours")
	case unitSeconds:
		return i18n.T(ctx, "seconds")
	case unitPercent:
		return "%"
	case unitMiB:
		return "MiB"
	case unitGiB:
		return "GiB"
	case unitKiBps:
		return "KiB/s"
	}
	return ""
}
