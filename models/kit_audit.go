package models

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// recordAudit appends an audit entry inside tx, the same transaction as the
// change it describes.
func recordAudit(tx *gorm.DB, a Actor, action, targetType, targetID string, detail map[string]any) error {
	ev := AuditEvent{
		ID: newID(), CreatedAt: time.Now().UTC(), ActorEmail: a.Email, IP: a.IP,
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

// likeEscape makes user input match literally in a LIKE pattern with
// ESCAPE '\', which both SQLite and PostgreSQL understand.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}
