package governance

import (
	"allmende/models"
	"allmende/models/rulebook"
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Rule kinds in the registry.
const (
	RuleKindParameter = "parameter"
	RuleKindText      = "text"
)

// ruleTitles names the rules for people, in the registry's order.
var ruleTitles = map[string]string{
	rulebook.RuleSharePriceCents:            "Price of a share (cents)",
	rulebook.RuleMinShares:                  "Minimum number of shares",
	rulebook.RuleMaxShares:                  "Maximum number of shares",
	rulebook.RuleNoticePeriodMonths:         "Notice period (months)",
	rulebook.RuleBusinessYearStart:          "Start of the business year (MM-DD)",
	rulebook.RuleEntitlementVCPUs:           "vCPUs per paid share",
	rulebook.RuleEntitlementMemory:          "Memory per paid share (MiB)",
	rulebook.RuleEntitlementDisk:            "Disk per paid share (GiB)",
	rulebook.RuleAdmissionApprovals:         "Board approvals needed for admission",
	rulebook.RuleBylawsVersion:              "Version of the bylaws",
	rulebook.RuleBylawsText:                 "Bylaws",
	rulebook.RuleProposalSupportPercent:     "Support that puts a proposal on the agenda (% of members)",
	rulebook.RuleAssemblyNoticeDays:         "Notice period of a general assembly (days)",
	rulebook.RuleProxyMaxRepresented:        "Members one proxy may represent",
	rulebook.RuleHouseRulesText:             "House rules",
	rulebook.RuleInvitationReceiptDays:      "Days after sending when an invitation counts as received",
	rulebook.RuleElectionMethod:             "Elections: majority_runoff or plurality",
	rulebook.RuleProxyEligibility:           "Who may act as proxy: members or members_and_relatives",
	rulebook.RuleTimeZone:                   "Time zone of the cooperative",
	rulebook.RuleSupervisoryBoard:           "The cooperative has a supervisory board",
	rulebook.RuleExclusionReasons:           "Reasons for exclusion (§68 GenG)",
	rulebook.RuleExclusionBody:              "Body that decides an exclusion",
	rulebook.RuleExclusionHearingDays:       "Days a member has to be heard before exclusion",
	rulebook.RuleCompulsoryShares:           "Compulsory shares",
	rulebook.RuleAdditionalContributions:    "Additional contributions in insolvency: none, unlimited or cents per share",
	rulebook.RuleReplicationIntervalSeconds: "Replication interval (seconds)",
	rulebook.RulePriceVCPUHour:              "Price of a vCPU-hour (thousandths of a cent)",
	rulebook.RulePriceMemoryGiBHour:         "Price of a GiB-hour of memory (thousandths of a cent)",
	rulebook.RulePriceDiskGiBMonth:          "Price of a GiB-month of disk (cents)",
	rulebook.RulePriceTrafficGiB:            "Price of a GiB of network traffic (cents)",
	rulebook.RuleModerationLadder:           "Ladder of sanctions (steps in order, kind[:days])",
	rulebook.RuleModerationStrikeDays:       "Days after which a sanction stops counting",
	rulebook.RuleModerationConfirmHours:     "Hours within which a second moderator must confirm an emergency suspension",
	rulebook.RuleModerationAppealDays:       "Days within which a sanction may be appealed",
	rulebook.RuleModerationThrottleDisk:     "Disk limit of a throttled VM (KiB/s)",
	rulebook.RuleModerationThrottleCPU:      "CPU limit of a throttled VM (% of one vCPU)",
}

// ruleVersionsAt returns, per key, the version in force at t.
func ruleVersionsAt(tx *gorm.DB, t time.Time) (map[string]rulebook.RuleVersion, error) {
	var rows []rulebook.RuleVersion
	if err := tx.Where("effective_from <= ?", t.UTC()).Order("effective_from, created_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	out := make(map[string]rulebook.RuleVersion, len(rulebook.RuleDefs))
	for _, v := range rows {
		out[v.Key] = v
	}
	return out, nil
}

// ruleStringAt reads one rule in force at t.
func ruleStringAt(tx *gorm.DB, key string, t time.Time) (string, error) {
	var v rulebook.RuleVersion
	err := tx.Where("key = ? AND effective_from <= ?", key, t.UTC()).
		Order("effective_from DESC, created_at DESC, id DESC").Limit(1).Find(&v).Error
	if err != nil {
		return "", fmt.Errorf("load rule %s: %w", key, err)
	}
	if v.ID == "" {
		return "", fmt.Errorf("rule %s has no version in force at %s", key, t.UTC().Format(time.RFC3339))
	}
	return v.Value, nil
}

// ruleIntAt reads one whole-number rule in force at t.
func ruleIntAt(tx *gorm.DB, key string, t time.Time) (int, error) {
	s, err := ruleStringAt(tx, key, t)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("stored rule %s=%q: %w", key, s, err)
	}
	return n, nil
}

// Registry lists every rule with the value in force now.
func (g *Governance) Registry(ctx context.Context) ([]RuleInfo, error) {
	db := g.db.Gorm.WithContext(ctx)
	current, err := ruleVersionsAt(db, g.now())
	if err != nil {
		return nil, err
	}
	var counts []struct {
		Key string
		N   int
	}
	if err := db.Model(&rulebook.RuleVersion{}).Select("key, COUNT(*) AS n").Group("key").Scan(&counts).Error; err != nil {
		return nil, fmt.Errorf("count rule versions: %w", err)
	}
	versions := map[string]int{}
	for _, c := range counts {
		versions[c.Key] = c.N
	}
	out := make([]RuleInfo, 0, len(rulebook.RuleDefs))
	for _, def := range rulebook.RuleDefs {
		v, ok := current[def.Key]
		if !ok { // a rule added later, still at its default
			v.Value, _ = rulebook.DefaultValue(def.Key)
			v.AdoptedBy = "default"
		}
		kind := RuleKindParameter
		if rulebook.IsTextRule(def.Key) {
			kind = RuleKindText
		}
		out = append(out, RuleInfo{Key: def.Key, Title: ruleTitles[def.Key], Kind: kind, Bylaw: rulebook.IsBylawRule(def.Key), Value: v.Value,
			EffectiveFrom: v.EffectiveFrom, AdoptedBy: v.AdoptedBy, Versions: versions[def.Key]})
	}
	return out, nil
}

// RuleHistory lists every version of a rule, oldest first; Diff compares two.
func (g *Governance) RuleHistory(ctx context.Context, key string) ([]rulebook.RuleVersion, error) {
	if _, ok := rulebook.RuleDefByKey(key); !ok {
		return nil, models.NotFoundError("rule")
	}
	var out []rulebook.RuleVersion
	if err := g.db.Gorm.WithContext(ctx).Where("key = ?", key).Order("effective_from, created_at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("load history of rule %s: %w", key, err)
	}
	return out, nil
}

// Decision is the agenda item of a general assembly that adopted a rule
// version, for a link from the rules to the vote.
type Decision struct {
	ItemID, ItemTitle         string
	AssemblyID, AssemblyTitle string
}

// Decisions finds the agenda items behind rule versions' AdoptedBy; ids
// that name no item ("initial", "default", an operator's note) are absent.
func (g *Governance) Decisions(ctx context.Context, ids []string) (map[string]Decision, error) {
	out := map[string]Decision{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ItemID, ItemTitle, AssemblyID, AssemblyTitle string
	}
	if err := g.db.Gorm.WithContext(ctx).Raw(`SELECT i.id AS item_id, i.title AS item_title, a.id AS assembly_id, a.title AS assembly_title
		FROM agenda_items i JOIN assemblies a ON a.id = i.assembly_id WHERE i.id IN ?`, ids).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("load the decisions behind rules: %w", err)
	}
	for _, r := range rows {
		out[r.ItemID] = Decision(r)
	}
	return out, nil
}
