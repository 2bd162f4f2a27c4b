package models

import (
	"allmende/models/internal/like"
	"context"
	"fmt"
	"strings"
	"time"
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
		q = q.Where(`LOWER(actor_email) LIKE ? ESCAPE '\'`, "%"+like.Escape(strings.ToLower(s))+"%")
	}
	if s := strings.TrimSpace(f.Action); s != "" {
		q = q.Where(`action LIKE ? ESCAPE '\'`, like.Escape(s)+"%")
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
