package membership

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/internal/kit"
)

// UpdateAddress records a member's new address as a dated register change.
func (s *Memberships) UpdateAddress(ctx context.Context, actor models.Actor, userID string, in AddressInput) error {
	in.normalize()
	fields := map[string]string{}
	in.validate(fields)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		m, err := latestMembership(tx, userID, true)
		if err != nil {
			return err
		}
		if m.PurgedAt != nil {
			return models.Conflict("This membership record has been closed.")
		}
		var changed []string
		for _, f := range []struct{ name, old, new string }{
			{"street", m.Street, in.Street}, {"postal_code", m.PostalCode, in.PostalCode},
			{"city", m.City, in.City}, {"country", m.Country, in.Country},
		} {
			if f.old != f.new {
				changed = append(changed, f.name)
			}
		}
		if len(changed) == 0 {
			return nil
		}
		err = tx.Model(&Membership{}).Where("id = ?", m.ID).Updates(map[string]any{
			"street": in.Street, "postal_code": in.PostalCode, "city": in.City, "country": in.Country, "updated_at": s.now(),
		}).Error
		if err != nil {
			return fmt.Errorf("update address of %s: %w", m.ID, err)
		}
		detail := models.Msgf("address changed to %s, %s %s, %s", in.Street, in.PostalCode, in.City, in.Country)
		if err := s.addEvent(tx, m.ID, EventAddressChanged, s.today(), detail); err != nil {
			return err
		}
		// Which fields changed, not their values: the audit log cannot be
		// purged, the register can.
		return kit.RecordAudit(tx, actor, "membership.address_update", "membership", m.ID, map[string]any{"fields": changed})
	})
}
