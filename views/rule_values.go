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

// ruleWords are the choices of the rules that take a word (election
// method, proxies, organs, contributions), as people read them.
var ruleWords = map[string]string{
	"majority_runoff":       "majority, with a runoff",
	"plurality":             "most votes (plurality)",
	"members":               "members",
	"members_and_relatives": "members and their relatives",
	"yes":                   "yes",
	"no":                    "no",
	"board":                 "the board",
	"supervisory_board":     "the supervisory board",
	"general_assembly":      "the general assembly",
	"none":                  "none",
	"unlimited":             "unlimited",
}

// IsMoneyRule reports whether a parameter counts cents, so that a form
// asks for euros instead.
func IsMoneyRule(key string) bool { return ruleUnits[key] == unitCents }

// RuleValue is a parameter's value as a person reads it: euros rather than
// cents, "30 days", "2 GiB"; a value that is not a number stays as it is.
func RuleValue(ctx context.Context, key, value string) string {
	if word, ok := ruleWords[value]; ok {
		return i18n.T(ctx, word)
	}
	if key == rulebook.RuleModerationLadder {
		return ladderText(ctx, value)
	}
	if lines := strings.Count(strings.TrimSpace(value), "\n") + 1; lines > 1 {
		return i18n.N(ctx, "%d entry (see the rule)", "%d entries (see the rule)", lines)
	}
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

// ladderSteps name the kinds of sanction on the moderation ladder.
var ladderSteps = map[string]string{
	"warning":        "warning",
	"throttle":       "throttling",
	"suspend_vm":     "suspension of the VM",
	"suspend_member": "suspension of the member",
	"exclusion":      "exclusion",
}

// ladderText reads the ladder "warning, throttle:7d, …" as words:
// "warning → throttling (7 days) → …"; an unknown step stays as written.
func ladderText(ctx context.Context, value string) string {
	var out []string
	for _, step := range strings.Split(value, ",") {
		kind, dur, _ := strings.Cut(strings.TrimSpace(step), ":")
		word, ok := ladderSteps[kind]
		if !ok {
			out = append(out, strings.TrimSpace(step))
			continue
		}
		s := i18n.T(ctx, word)
		if days, err := strconv.Atoi(strings.TrimSuffix(dur, "d")); err == nil && dur != "" {
			s += " (" + i18n.N(ctx, "%d day", "%d days", days) + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " → ")
}
