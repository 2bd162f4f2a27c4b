package rulebook

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"allmende/models"
)

// Keys of the rule_versions table.
const (
	RuleSharePriceCents    = "share_price_cents"
	RuleMinShares          = "min_shares"
	RuleMaxShares          = "max_shares"
	RuleNoticePeriodMonths = "notice_period_months"
	RuleBusinessYearStart  = "business_year_start" // "MM-DD"
	RuleEntitlementVCPUs   = "entitlement_vcpus"
	RuleEntitlementMemory  = "entitlement_memory_mib"
	RuleEntitlementDisk    = "entitlement_disk_gib"
	RuleAdmissionApprovals = "admission_approvals"
	RuleBylawsVersion      = "bylaws_version"
	RuleBylawsText         = "bylaws_text"

	// Self-government (governance.go). They are read by key rather than
	// through RuleParams: the registry and the assembly are their only users.
	RuleProposalSupportPercent = "proposal_support_percent"
	RuleAssemblyNoticeDays     = "assembly_notice_days"
	RuleProxyMaxRepresented    = "proxy_max_represented"
	RuleHouseRulesText         = "house_rules_text"

	// General assemblies (issue 16). The days after sending on which an
	// invitation counts as received (§46(1) GenG counts the notice from
	// then), how elections are decided (§43(2) GenG: majority of the valid
	// votes with a runoff, unless the bylaws choose plurality), who may act
	// as proxy (§43(5) GenG), and the time zone of the cooperative, in
	// which invitations give their times and notice days are counted.
	RuleInvitationReceiptDays = "invitation_receipt_days"
	RuleElectionMethod        = "election_method"   // majority_runoff | plurality
	RuleProxyEligibility      = "proxy_eligibility" // members | members_and_relatives
	RuleTimeZone              = "time_zone"

	// Replication (models/replication): how often a VM's disk is copied
	// to its standby host unless its plan says otherwise.
	RuleReplicationIntervalSeconds = "replication_interval_seconds"

	// Prices (models/metering): a VM-hour costs vCPUs × the vCPU price +
	// GiB of memory × the memory price, so a plan's price follows from its
	// size; disks per GiB and month, traffic per GiB.
	RulePriceVCPUHour      = "price_vcpu_hour_millicents"
	RulePriceMemoryGiBHour = "price_memory_gib_hour_millicents"
	RulePriceDiskGiBMonth  = "price_disk_gib_month_cents"
	RulePriceTrafficGiB    = "price_traffic_gib_cents"

	// Moderation (models/moderation): the graduated sanctions and their
	// figures. The ladder lists the steps in order, each a kind with an
	// optional default duration in days ("throttle:7d").
	RuleModerationLadder       = "moderation_ladder"
	RuleModerationStrikeDays   = "moderation_strike_days"   // a sanction stops counting after this
	RuleModerationConfirmHours = "moderation_confirm_hours" // an unconfirmed emergency suspension lifts after this
	RuleModerationAppealDays   = "moderation_appeal_days"   // a sanction may be appealed this long
	RuleModerationThrottleDisk = "moderation_throttle_disk_kib"
	RuleModerationThrottleCPU  = "moderation_throttle_cpu_percent"

	// Organs (models/membership/organs.go): "no" when the bylaws do
	// without a supervisory board, which §9(1) GenG allows only while the
	// cooperative has at most 20 members.
	RuleSupervisoryBoard = "supervisory_board"

	// Exclusion (§68 GenG, models/membership/exclusion.go): the reasons
	// the bylaws list (one per line), the body that decides, and how many
	// days the member has to be heard.
	RuleExclusionReasons     = "exclusion_reasons"
	RuleExclusionBody        = "exclusion_body"
	RuleExclusionHearingDays = "exclusion_hearing_days"

	// Further shares (§15b GenG): how many shares the bylaws oblige every
	// member to hold (a compulsory holding); 0 for none beyond the minimum.
	RuleCompulsoryShares = "compulsory_shares"

	// §6 no. 3 GenG: whether members must make additional contributions
	// to the insolvency estate — "none", "unlimited", or the liability sum
	// per share in cents. The declaration of membership names it (§15a).
	RuleAdditionalContributions = "additional_contributions"
)

// Prices are what usage costs, as the rules say at a moment.
type Prices struct {
	VCPUHourMillicents      int64
	MemoryGiBHourMillicents int64
	DiskGiBMonthCents       int64
	TrafficGiBCents         int64
}

// ruleDefaults are values of rules added after an installation's rules were
// seeded, for as long as no version was adopted; every other rule must
// have a version in force.
var ruleDefaults = map[string]string{RuleAdditionalContributions: "none"}

// Bounds of the replication interval: below 30 s a copy hardly finishes
// before the next is due; a day is the longest data-loss window the rule
// may accept.
const (
	MinReplicationIntervalSeconds = 30
	MaxReplicationIntervalSeconds = 86400
)

// ruleDef knows how to check one rule's value and where it goes in
// RuleParams; Apply returns a message for people about a bad value (zero: the value is good).
type ruleDef struct {
	Key   string
	Apply func(p *RuleParams, v string) models.Msg
}

var RuleDefs = []ruleDef{
	{RuleSharePriceCents, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 1, 100_000_000) // up to one million per share
		p.SharePriceCents = int64(n)
		return msg
	}},
	{RuleMinShares, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 1, 1_000_000)
		p.MinShares = n
		return msg
	}},
	{RuleMaxShares, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 1, 1_000_000)
		p.MaxShares = n
		return msg
	}},
	{RuleNoticePeriodMonths, func(p *RuleParams, v string) models.Msg {
		// §65(2) GenG: at least three months, at most five years.
		n, msg := parseIntIn(v, 3, 60)
		p.NoticePeriodMonths = n
		return msg
	}},
	{RuleBusinessYearStart, func(p *RuleParams, v string) models.Msg {
		// Year 2001 is no leap year, so 29 February is refused: a business
		// year must start on the same day every year.
		t, err := time.Parse("2006-01-02", "2001-"+v)
		if err != nil || len(v) != 5 {
			return models.Msgf("Enter the start of the business year as MM-DD, e.g. 01-01.")
		}
		p.BusinessYearStartMonth, p.BusinessYearStartDay = int(t.Month()), t.Day()
		return models.Msg{}
	}},
	{RuleEntitlementVCPUs, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 0, 1024)
		p.EntitlementPerShare.VCPUs = n
		return msg
	}},
	{RuleEntitlementMemory, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 0, 4*1024*1024)
		p.EntitlementPerShare.MemoryMiB = n
		return msg
	}},
	{RuleEntitlementDisk, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 0, 1024*1024)
		p.EntitlementPerShare.DiskGiB = n
		return msg
	}},
	{RuleAdmissionApprovals, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 1, 2)
		p.AdmissionApprovals = n
		return msg
	}},
	{RuleBylawsVersion, func(p *RuleParams, v string) models.Msg {
		if v == "" || utf8.RuneCountInString(v) > 50 {
			return models.Msgf("Enter a version of 1 to 50 characters.")
		}
		p.BylawsVersion = v
		return models.Msg{}
	}},
	{RuleBylawsText, func(p *RuleParams, v string) models.Msg {
		if v == "" {
			return models.Msgf("Enter the text of the bylaws.")
		}
		p.BylawsText = v
		return models.Msg{}
	}},
	{RuleProposalSupportPercent, func(p *RuleParams, v string) models.Msg {
		// §45(1) GenG: one tenth of the members may demand an item; the
		// bylaws may ask for fewer, never for more.
		_, msg := parseIntIn(v, 1, 10)
		return msg
	}},
	{RuleAssemblyNoticeDays, func(p *RuleParams, v string) models.Msg {
		// §46(1) GenG: at least two weeks.
		_, msg := parseIntIn(v, 14, 90)
		return msg
	}},
	{RuleProxyMaxRepresented, func(p *RuleParams, v string) models.Msg {
		// §43(5) GenG: a proxy may represent no more than two members.
		_, msg := parseIntIn(v, 0, 2)
		return msg
	}},
	{RuleHouseRulesText, func(p *RuleParams, v string) models.Msg {
		if v == "" {
			return models.Msgf("Enter the text of the house rules.")
		}
		return models.Msg{}
	}},
	{RuleInvitationReceiptDays, func(p *RuleParams, v string) models.Msg {
		_, msg := parseIntIn(v, 0, 14)
		return msg
	}},
	{RuleElectionMethod, func(p *RuleParams, v string) models.Msg {
		if v != ElectionMajorityRunoff && v != ElectionPlurality {
			return models.Msgf("Choose majority_runoff or plurality.")
		}
		return models.Msg{}
	}},
	{RuleProxyEligibility, func(p *RuleParams, v string) models.Msg {
		if v != ProxyMembers && v != ProxyMembersAndRelatives {
			return models.Msgf("Choose members or members_and_relatives.")
		}
		return models.Msg{}
	}},
	{RuleTimeZone, func(p *RuleParams, v string) models.Msg {
		if _, err := time.LoadLocation(v); err != nil || v == "" || v == "Local" {
			return models.Msgf("Enter a time zone of the IANA database, e.g. Europe/Berlin.")
		}
		return models.Msg{}
	}},
	// Bounds keep a typo (cents for millicents) from becoming a price: at
	// most 10 € per vCPU- or GiB-hour, 100 € per GiB-month or GiB.
	{RulePriceVCPUHour, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 0, 1_000_000)
		p.Prices.VCPUHourMillicents = int64(n)
		return msg
	}},
	{RulePriceMemoryGiBHour, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 0, 1_000_000)
		p.Prices.MemoryGiBHourMillicents = int64(n)
		return msg
	}},
	{RulePriceDiskGiBMonth, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 0, 10_000)
		p.Prices.DiskGiBMonthCents = int64(n)
		return msg
	}},
	{RulePriceTrafficGiB, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 0, 10_000)
		p.Prices.TrafficGiBCents = int64(n)
		return msg
	}},
	{RuleReplicationIntervalSeconds, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, MinReplicationIntervalSeconds, MaxReplicationIntervalSeconds)
		p.ReplicationIntervalSeconds = n
		return msg
	}},
	{RuleModerationLadder, func(p *RuleParams, v string) models.Msg {
		_, msg := ParseLadder(v)
		p.ModerationLadder = v
		return msg
	}},
	{RuleModerationStrikeDays, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 1, 3650)
		p.ModerationStrikeDays = n
		return msg
	}},
	{RuleModerationConfirmHours, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 1, 168)
		p.ModerationConfirmHours = n
		return msg
	}},
	{RuleModerationAppealDays, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 1, 365)
		p.ModerationAppealDays = n
		return msg
	}},
	{RuleModerationThrottleDisk, func(p *RuleParams, v string) models.Msg {
		// KiB/s for reads and for writes: from 64 KiB/s to 1 GiB/s.
		n, msg := parseIntIn(v, 64, 1024*1024)
		p.ModerationThrottleDiskKiB = n
		return msg
	}},
	{RuleModerationThrottleCPU, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 1, 99)
		p.ModerationThrottleCPUPercent = n
		return msg
	}},
	{RuleSupervisoryBoard, func(p *RuleParams, v string) models.Msg {
		switch v {
		case "yes", "no":
			p.SupervisoryBoard = v == "yes"
			return models.Msg{}
		}
		return models.Msgf(`Enter "yes" (the bylaws provide a supervisory board) or "no".`)
	}},
	{RuleExclusionReasons, func(p *RuleParams, v string) models.Msg {
		var reasons []string
		for _, l := range strings.Split(v, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				if utf8.RuneCountInString(l) > 300 {
					return models.Msgf("Each reason may have at most 300 characters.")
				}
				reasons = append(reasons, l)
			}
		}
		if len(reasons) == 0 || len(reasons) > 30 {
			return models.Msgf("List 1 to 30 reasons for an exclusion, one per line.")
		}
		p.ExclusionReasons = strings.Join(reasons, "\n")
		return models.Msg{}
	}},
	{RuleExclusionBody, func(p *RuleParams, v string) models.Msg {
		switch v {
		case "board", "supervisory_board", "general_assembly":
			p.ExclusionBody = v
			return models.Msg{}
		}
		return models.Msgf("Enter board, supervisory_board or general_assembly.")
	}},
	{RuleExclusionHearingDays, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 7, 90)
		p.ExclusionHearingDays = n
		return msg
	}},
	{RuleCompulsoryShares, func(p *RuleParams, v string) models.Msg {
		n, msg := parseIntIn(v, 0, 1_000_000)
		p.CompulsoryShares = n
		return msg
	}},
	{RuleAdditionalContributions, func(p *RuleParams, v string) models.Msg {
		switch v {
		case "none", "unlimited":
			p.AdditionalContributions = v
			return models.Msg{}
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 && n <= 100_000_000 {
			p.AdditionalContributions = v
			return models.Msg{}
		}
		return models.Msgf(`Enter "none", "unlimited" or the liability sum per share in cents.`)
	}},
}

// Values of the election and proxy rules.
const (
	ElectionMajorityRunoff   = "majority_runoff"
	ElectionPlurality        = "plurality"
	ProxyMembers             = "members"
	ProxyMembersAndRelatives = "members_and_relatives"
)

// bylawRules are part of the bylaws: a change needs three quarters of the
// votes cast (§16(2) GenG) and takes effect only when it is entered in the
// register of cooperatives (§16(6) GenG). The entitlements, the house rules,
// the time zone and the replication interval are set by ordinary
// resolution and apply at once.
var bylawRules = map[string]bool{
	RuleSharePriceCents: true, RuleMinShares: true, RuleMaxShares: true, RuleNoticePeriodMonths: true,
	RuleBusinessYearStart: true, RuleAdmissionApprovals: true, RuleBylawsVersion: true, RuleBylawsText: true,
	RuleProposalSupportPercent: true, RuleAssemblyNoticeDays: true, RuleProxyMaxRepresented: true,
	RuleInvitationReceiptDays: true, RuleElectionMethod: true, RuleProxyEligibility: true,
	// The bylaws must say these (§6 no. 3, §7a, §9(1), §68(1) GenG).
	RuleSupervisoryBoard: true, RuleExclusionReasons: true, RuleExclusionBody: true, RuleExclusionHearingDays: true,
	RuleCompulsoryShares: true, RuleAdditionalContributions: true,
}

// DefaultValue is the value a rule added after seeding has until a version
// is adopted (ruleDefaults), and whether it has one.
func DefaultValue(key string) (string, bool) {
	v, ok := ruleDefaults[key]
	return v, ok
}

// IsBylawRule tells whether key is a rule of the bylaws.
func IsBylawRule(key string) bool { return bylawRules[key] }

func RuleDefByKey(key string) (ruleDef, bool) {
	for _, d := range RuleDefs {
		if d.Key == key {
			return d, true
		}
	}
	return ruleDef{}, false
}

func parseIntIn(v string, lo, hi int) (int, models.Msg) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, models.Msgf("Enter a whole number from %d to %d.", lo, hi)
	}
	return n, models.Msg{}
}
