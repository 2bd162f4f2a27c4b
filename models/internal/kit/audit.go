package kit

import (
	"allmende/models"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// recordAudit appends an audit entry inside tx, the same transaction as the
// change it describes.
func RecordAudit(tx *gorm.DB, a models.Actor, action, targetType, targetID string, detail map[string]any) error {
	ev := models.AuditEvent{
		ID: NewID(), CreatedAt: time.Now().UTC(), ActorEmail: a.Email, IP: a.IP,
		Action: action, TargetType: targetType, TargetID: targetID,
	}
	if a.UserID != "" {
		ev.ActorID = &a.UserID
	}
	if len(detail) > 0 {
		b, err := json.Marshal(detail)
		if err != nil {
			return fmt.Errorf("encode audit detail: %w", err)
		}
		ev.Detail = string(b)
	}
	if err := tx.Create(&ev).Error; err != nil {
		return fmt.Errorf("write audit entry %s: %w", action, err)
	}
	return nil
}
