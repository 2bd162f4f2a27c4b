package rulebook

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Entitlement is what a member may use of the cooperative's resources.
type Entitlement struct {
	VCPUs     int `json:"vcpus"`
	MemoryMiB int `json:"memory_mib"`
	DiskGiB   int `json:"disk_gib"`
}

// Times scales an entitlement, e.g. per paid share.
func (e Entitlement) Times(n int) Entitlement {
	return Entitlement{VCPUs: e.VCPUs * n, MemoryMiB: e.MemoryMiB * n, DiskGiB: e.DiskGiB * n}
}

// RuleParams are the legal figures of the bylaws as of one moment. They are
// settings, not constants: the general assembly may change them.
type RuleParams struct {
	SharePriceCents        int64
	MinShares, MaxShares   int
	NoticePeriodMonths     int
	BusinessYearStartMonth int
	BusinessYearStartDay   int
	EntitlementPerShare    Entitlement
	AdmissionApprovals     int
	BylawsVersion          string
	BylawsText             string
	// ReplicationIntervalSeconds is how often a VM's disk is copied to its
	// standby host when its plan sets no interval of its own.
	ReplicationIntervalSeconds int
	// Prices of usage (models/metering).
	Prices Prices

	// Moderation: the ladder of sanctions and its figures.
	// ModerationLadder is the ladder rule's text; Ladder parses it (kept
	// as text so that RuleParams stays comparable).
	ModerationLadder             string
	ModerationStrikeDays         int
	ModerationConfirmHours       int
	ModerationAppealDays         int
	ModerationThrottleDiskKiB    int
	ModerationThrottleCPUPercent int
	// SupervisoryBoard is false when the bylaws do without one (§9(1)
	// GenG; only effective while the cooperative has at most 20 members).
	SupervisoryBoard bool
	// Exclusion (§68 GenG): the reasons the bylaws list, the body that
	// decides (board, supervisory_board, general_assembly) and the days
	// the member has to be heard.
	ExclusionReasons     string // one per line; see Reasons
	ExclusionBody        string
	ExclusionHearingDays int
	// CompulsoryShares is the holding the bylaws oblige (§7a(2) GenG), 0
	// for none beyond MinShares; see Compulsory.
	CompulsoryShares int
	// AdditionalContributions (§6 no. 3 GenG): "none", "unlimited", or
	// the liability sum per share in cents.
	AdditionalContributions string
}

// Compulsory is the number of shares every member must hold: further
// shares up to it are admitted even while earlier ones are unpaid (§15b(3)).
func (p RuleParams) Compulsory() int { return max(p.MinShares, p.CompulsoryShares) }

// Reasons lists the reasons for an exclusion the bylaws name. (Kept as
// one string so that RuleParams stays comparable.)
func (p RuleParams) Reasons() []string {
	if p.ExclusionReasons == "" {
		return nil
	}
	return strings.Split(p.ExclusionReasons, "\n")
}

// RuleVersion is one adopted value of one rule.
type RuleVersion struct {
	ID            string    `json:"id"`
	Key           string    `json:"key"`
	Value         string    `json:"value"`
	EffectiveFrom time.Time `json:"effective_from"`
	AdoptedBy     string    `json:"adopted_by"` // "initial" or a decision id
	CreatedAt     time.Time `json:"created_at"`
}

// Rules is the one way to read and change the cooperative's rules.
type Rules struct {
	db    *models.DB
	clock models.Clock
}

func NewRules(db *models.DB, clock models.Clock) *Rules { return &Rules{db: db, clock: clock} }

// Current returns the rules in force now.
func (r *Rules) Current(ctx context.Context) (RuleParams, error) {
	return r.At(ctx, r.clock.Now())
}

// At returns the rules in force at t.
func (r *Rules) At(ctx context.Context, t time.Time) (RuleParams, error) {
	return RulesAt(r.db.Gorm.WithContext(ctx), t)
}

// rulesAt reads the rules through tx, so that services can read them inside
// their own transaction (SQLite has a single connection: a read outside the
// transaction would wait for it forever).
func RulesAt(tx *gorm.DB, t time.Time) (RuleParams, error) {
	var rows []RuleVersion
	// For each key the latest version that has taken effect wins; among
	// versions effective at the same moment, the later adopted one.
	if err := tx.Where("effective_from <= ?", t.UTC()).Order("effective_from, created_at, id").Find(&rows).Error; err != nil {
		return RuleParams{}, fmt.Errorf("load rules: %w", err)
	}
	values := map[string]string{}
	for _, v := range rows {
		values[v.Key] = v.Value
	}
	var p RuleParams
	for _, def := range RuleDefs {
		v, ok := values[def.Key]
		if !ok {
			v, ok = ruleDefaults[def.Key]
		}
		if !ok {
			return RuleParams{}, fmt.Errorf("rule %s has no version in force at %s", def.Key, t.UTC().Format(time.RFC3339))
		}
		if msg := def.Apply(&p, v); msg.Format != "" {
			return RuleParams{}, fmt.Errorf("stored rule %s=%q: %s", def.Key, v, msg)
		}
	}
	return p, nil
}

// Set adopts a new value for a rule, effective from effectiveFrom.
func (r *Rules) Set(ctx context.Context, actor models.Actor, key, value string, effectiveFrom time.Time, adoptedBy string) error {
	def, ok := RuleDefByKey(key)
	if !ok {
		return models.Invalidf("key", "Unknown rule %q.", key)
	}
	value, adoptedBy = strings.TrimSpace(value), strings.TrimSpace(adoptedBy)
	fields := map[string]string{}
	if effectiveFrom.IsZero() {
		fields["effective_from"] = "Enter the date from which the rule applies."
	}
	if adoptedBy == "" {
		fields["adopted_by"] = `Name the decision that adopted the rule (or "initial").`
	}
	var scratch RuleParams
	msgs := map[string]models.Msg{}
	if msg := def.Apply(&scratch, value); msg.Format != "" {
		msgs["value"] = msg
	}
	if len(fields)+len(msgs) > 0 {
		return models.InvalidFields(fields, msgs)
	}
	now := r.clock.Now().UTC()
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		return SetRulesTx(tx, actor, map[string]string{key: value}, effectiveFrom, adoptedBy, now, "value")
	})
}

// setRulesTx adopts checked values for several rules at once, inside tx: a
// general assembly may change the minimum and the maximum of shares in one
// decision, and only the combination must fit. field names the form field
// a combination error is reported on ("value", or "param:" per key when
// empty).
func SetRulesTx(tx *gorm.DB, actor models.Actor, values map[string]string, effectiveFrom time.Time, adoptedBy string, now time.Time, field string) error {
	// The new values must fit the other rules in force at that moment
	// (minimum shares not above the maximum).
	p, err := RulesAt(tx, effectiveFrom)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	for _, def := range RuleDefs { // in the registry's order, for a stable audit trail
		if v, ok := values[def.Key]; ok {
			if msg := def.Apply(&p, v); msg.Format != "" {
				return models.InvalidMsgs(map[string]models.Msg{fieldFor(field, def.Key): msg})
			}
			keys = append(keys, def.Key)
		}
	}
	if len(keys) != len(values) {
		return models.Invalid(map[string]string{fieldFor(field, "key"): "Unknown rule."})
	}
	if p.MinShares > p.MaxShares {
		return models.Invalidf(fieldFor(field, RuleMinShares), "The minimum number of shares (%d) may not exceed the maximum (%d).", p.MinShares, p.MaxShares)
	}
	for _, key := range keys {
		v := RuleVersion{ID: kit.NewID(), Key: key, Value: values[key], EffectiveFrom: effectiveFrom.UTC(), AdoptedBy: adoptedBy, CreatedAt: now}
		if err := tx.Create(&v).Error; err != nil {
			return fmt.Errorf("insert rule version %s: %w", key, err)
		}
		detail := map[string]any{"key": key, "effective_from": v.EffectiveFrom, "adopted_by": adoptedBy}
		if !IsTextRule(key) { // texts are long; their versions are recorded separately
			detail["value"] = v.Value
		}
		if err := kit.RecordAudit(tx, actor, "rules.set", "rule", key, detail); err != nil {
			return err
		}
	}
	return nil
}

func fieldFor(field, key string) string {
	if field != "" {
		return field
	}
	return "param:" + key
}

// History lists every version of a rule, oldest first.
func (r *Rules) History(ctx context.Context, key string) ([]RuleVersion, error) {
	if _, ok := RuleDefByKey(key); !ok {
		return nil, models.NotFoundError("rule")
	}
	var out []RuleVersion
	if err := r.db.Gorm.WithContext(ctx).Where("key = ?", key).Order("effective_from, created_at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("load history of rule %s: %w", key, err)
	}
	return out, nil
}

// isTextRule tells the long texts from the parameters: a text is changed
// as a whole and shown as a diff, a parameter is a typed value.
func IsTextRule(key string) bool { return key == RuleBylawsText || key == RuleHouseRulesText }
