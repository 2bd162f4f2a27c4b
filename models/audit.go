package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Actor is who performs a state change and from where; every service method
// that changes state takes one, so the audit entry cannot be forgotten.
type Actor struct {
	UserID string // empty for the system or an anonymous visitor
	Email  string
	IP     string
}

// SystemActor is used by background jobs and the command line.
func SystemActor(what string) Actor { return Actor{Email: "system:" + what} }

// AuditEvent is one row of the append-only audit log. The database refuses
// updates and deletes (see migrate.go).
type AuditEvent struct {
	ID         string
	CreatedAt  time.Time
	ActorID    *string
	ActorEmail string
	IP         string `gorm:"column:ip"`
	Action     string
	TargetType string
	TargetID   string
	Detail     string
}

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

// AuditFilter narrows the admin's view of the log.
type AuditFilter struct {
	Actor  string // substring of the actor's email
	Action string // prefix, e.g. "user." or "host.refresh"
	Target string // target id
	Before string // id of the last row of the previous page
	Limit  int
}

// AuditLog reads the log; writing happens only through recordAudit.
type AuditLog struct{ db *DB }

func NewAuditLog(db *DB) *AuditLog { return &AuditLog{db: db} }

// List returns matching entries, newest first.
func (l *AuditLog) List(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	q := l.db.Gorm.WithContext(ctx).Model(&AuditEvent{})
	if s := strings.TrimSpace(f.Actor); s != "" {
		q = q.Where(`LOWER(actor_email) LIKE ? ESCAPE '\'`, "%"+likeEscape(strings.ToLower(s))+"%")
	}
	if s := strings.TrimSpace(f.Action); s != "" {
		q = q.Where(`action LIKE ? ESCAPE '\'`, likeEscape(s)+"%")
	}
	if s := strings.TrimSpace(f.Target); s != "" {
		q = q.Where("target_id = ?", s)
	}
	if f.Before != "" {
		q = q.Where("id < ?", f.Before)
	}
	var out []AuditEvent
	if err := q.Order("id DESC").Limit(f.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

// likeEscape makes user input match literally in a LIKE pattern with
// ESCAPE '\', which both SQLite and PostgreSQL understand.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}
