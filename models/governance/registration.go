package governance

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// A change of the bylaws has no effect before it is entered in the register
// of cooperatives (§16(6) GenG). An adopted proposal's bylaw rules wait in
// rule_registrations until the board records the day of the entry; that
// day (or the later date the proposal named) is when they take effect.
// Its other rules (entitlements, house rules) apply at once.

type registrationRow struct {
	ID            string
	ProposalID    string
	ItemID        string
	RuleValues    string
	EffectiveFrom time.Time
	AdoptedAt     time.Time
	RegisteredOn  *time.Time
	RecordedBy    *string
	RecordedAt    *time.Time
}

func (registrationRow) TableName() string { return "rule_registrations" }

// Registration is a bylaw change adopted by an assembly, awaiting (or
// through) its entry in the register.
type Registration struct {
	ID, ProposalID, ProposalTitle, ItemID, AssemblyID string
	Values                                            map[string]string
	EffectiveFrom, AdoptedAt                          time.Time
	RegisteredOn                                      *time.Time // nil: awaiting registration
}

// splitBylawValues parts a proposal's adopted values into bylaw rules and
// the rest.
func splitBylawValues(values map[string]string) (bylaw, other map[string]string) {
	bylaw, other = map[string]string{}, map[string]string{}
	for k, v := range values {
		if rulebook.IsBylawRule(k) {
			bylaw[k] = v
		} else {
			other[k] = v
		}
	}
	return bylaw, other
}

// awaitRegistration keeps an adopted proposal's bylaw values until the
// board records the entry in the register.
func awaitRegistration(tx *gorm.DB, actor models.Actor, p *Proposal, it AgendaItem, values map[string]string, closedAt time.Time) error {
	b, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("encode rule values: %w", err)
	}
	row := registrationRow{ID: kit.NewID(), ProposalID: p.ID, ItemID: it.ID, RuleValues: string(b),
		EffectiveFrom: p.EffectiveFrom.UTC(), AdoptedAt: closedAt.UTC()}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("record adopted bylaw change: %w", err)
	}
	if err := tx.Model(&proposalRow{}).Where("id = ?", p.ID).Update("status", ProposalAwaitingRegistration).Error; err != nil {
		return fmt.Errorf("mark proposal: %w", err)
	}
	return kit.RecordAudit(tx, actor, "rules.awaiting_registration", "proposal", p.ID,
		map[string]any{"registration": row.ID, "item_id": it.ID, "keys": sortedKeys(values)})
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for _, def := range rulebook.RuleDefs {
		if _, ok := m[def.Key]; ok {
			out = append(out, def.Key)
		}
	}
	return out
}

// Registrations lists the adopted bylaw changes, those awaiting
// registration first.
func (g *Governance) Registrations(ctx context.Context, v models.Viewer) ([]Registration, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	return loadRegistrations(db, "")
}

func loadRegistrations(tx *gorm.DB, where string, args ...any) ([]Registration, error) {
	var rows []struct { // flat: gorm skips an embedded unexported struct
		ID, ProposalID, ItemID, RuleValues, Title, AssemblyID string
		EffectiveFrom, AdoptedAt                              time.Time
		RegisteredOn                                          *time.Time
	}
	q := `SELECT r.*, p.title, i.assembly_id FROM rule_registrations r
		JOIN proposals p ON p.id = r.proposal_id JOIN agenda_items i ON i.id = r.item_id`
	if where != "" {
		q += " WHERE " + where
	}
	q += " ORDER BY CASE WHEN r.registered_on IS NULL THEN 0 ELSE 1 END, r.adopted_at DESC, r.id"
	if err := tx.Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("load registrations: %w", err)
	}
	out := make([]Registration, len(rows))
	for i, r := range rows {
		out[i] = Registration{ID: r.ID, ProposalID: r.ProposalID, ProposalTitle: r.Title, ItemID: r.ItemID, AssemblyID: r.AssemblyID,
			EffectiveFrom: r.EffectiveFrom.UTC(), AdoptedAt: r.AdoptedAt.UTC(), RegisteredOn: utcPtr(r.RegisteredOn)}
		_ = json.Unmarshal([]byte(r.RuleValues), &out[i].Values) // written by awaitRegistration from a map
	}
	return out, nil
}

// RecordRegistration records the day the register of cooperatives entered
// an adopted bylaw change; from that day (or the later date the proposal
// named) its rules are in force. Only the board records it, once, for a
// day that has come and is not before the adoption.
func (g *Governance) RecordRegistration(ctx context.Context, actor models.Actor, v models.Viewer, id string, day time.Time) (*Registration, error) {
	var out *Registration
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board records entries in the register of cooperatives."); err != nil {
			return err
		}
		var row registrationRow
		err := kit.ForUpdate(tx).First(&row, "id = ?", strings.TrimSpace(id)).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return models.NotFoundError("adopted bylaw change")
		}
		if err != nil {
			return fmt.Errorf("load registration: %w", err)
		}
		if row.RegisteredOn != nil {
			return models.Conflict("The registration of this change has already been recorded.")
		}
		loc, err := g.location(tx)
		if err != nil {
			return err
		}
		if day.IsZero() {
			return models.Invalid(map[string]string{"registered_on": "Enter the day of the entry in the register."})
		}
		// Dates of rules are calendar days (midnight UTC, like every
		// effective date of the registry); "today" is the cooperative's.
		start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
		adopted := dayOf(row.AdoptedAt, loc)
		switch {
		case start.After(dayOf(g.now(), loc)):
			return models.Invalid(map[string]string{"registered_on": "The entry cannot lie in the future; record it once the register has made it."})
		case start.Before(adopted):
			return models.Invalidf("registered_on", "The entry cannot be earlier than the resolution (%s).", kit.DateOf(adopted))
		}
		from := start.UTC()
		if row.EffectiveFrom.After(from) {
			from = row.EffectiveFrom.UTC()
		}
		var values map[string]string
		if err := json.Unmarshal([]byte(row.RuleValues), &values); err != nil {
			return fmt.Errorf("read rule values of %s: %w", row.ID, err)
		}
		if err := rulebook.SetRulesTx(tx, actor, values, from, row.ItemID, g.now(), ""); err != nil {
			if de, ok := models.AsError(err); ok && de.Fields != nil {
				return models.Conflict("The adopted values no longer fit the rules in force from that day; the assembly must decide again.")
			}
			return err
		}
		now := g.now()
		if err := tx.Model(&registrationRow{}).Where("id = ?", row.ID).Updates(map[string]any{
			"registered_on": start.UTC(), "recorded_by": v.UserID, "recorded_at": now}).Error; err != nil {
			return fmt.Errorf("record registration: %w", err)
		}
		if err := tx.Model(&proposalRow{}).Where("id = ?", row.ProposalID).Update("status", ProposalAdopted).Error; err != nil {
			return fmt.Errorf("mark proposal: %w", err)
		}
		if err := kit.RecordAudit(tx, actor, "rules.registered", "proposal", row.ProposalID,
			map[string]any{"registration": row.ID, "registered_on": kit.FormatDate(start), "effective_from": from}); err != nil {
			return err
		}
		rs, err := loadRegistrations(tx, "r.id = ?", row.ID)
		if err != nil {
			return err
		}
		out = &rs[0]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Location is the cooperative's time zone (rule time_zone): the board
// enters an assembly's times in it, and invitations give them in it.
func (g *Governance) Location(ctx context.Context) (*time.Location, error) {
	return g.location(g.db.Gorm.WithContext(ctx))
}

// location is the cooperative's time zone (rule time_zone).
func (g *Governance) location(tx *gorm.DB) (*time.Location, error) {
	name, err := ruleStringAt(tx, rulebook.RuleTimeZone, g.now())
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}
