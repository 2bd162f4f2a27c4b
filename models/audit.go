package models

import (
	"allmende/models/internal/like"
	"context"
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

// AuditFilter narrows the admin's view of the log.
type AuditFilter struct {
	Actor  string    // substring of the actor's email
	Action string    // prefix, e.g. "user." or "host.refresh"
	Target string    // target id
	Query  string    // text anywhere in the action, target, detail or address
	From   time.Time // entries at or after this moment, zero for no bound
	Until  time.Time // entries before this moment, zero for no bound
	Before string    // id of the last row of the previous page
	Limit  int
	Offset int // entries to skip (numbered pages)
}

// AuditLog reads the log; writing happens only through recordAudit.
type AuditLog struct{ db *DB }

func NewAuditLog(db *DB) *AuditLog { return &AuditLog{db: db} }

// List returns matching entries, newest first.
func (l *AuditLog) List(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	var out []AuditEvent
	if err := l.filter(ctx, f).Order("id DESC").Limit(f.Limit).Offset(max(0, f.Offset)).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

// Count is how many entries match the filter (Limit, Offset and Before aside).
func (l *AuditLog) Count(ctx context.Context, f AuditFilter) (int, error) {
	f.Before = ""
	var n int64
	if err := l.filter(ctx, f).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count audit events: %w", err)
	}
	return int(n), nil
}

// Actions are the distinct actions the log holds, for the filter's
// suggestions.
func (l *AuditLog) Actions(ctx context.Context) ([]string, error) {
	var out []string
	if err := l.db.Gorm.WithContext(ctx).Model(&AuditEvent{}).Distinct("action").Order("action").Pluck("action", &out).Error; err != nil {
		return nil, fmt.Errorf("list audit actions: %w", err)
	}
	return out, nil
}

func (l *AuditLog) filter(ctx context.Context, f AuditFilter) *gorm.DB {
	q := l.db.Gorm.WithContext(ctx).Model(&AuditEvent{})
	if s := strings.TrimSpace(f.Query); s != "" {
		pat := "%" + like.Escape(strings.ToLower(s)) + "%"
		q = q.Where(`(LOWER(action) LIKE ? ESCAPE '\' OR LOWER(target_type) LIKE ? ESCAPE '\' OR LOWER(target_id) LIKE ? ESCAPE '\' OR LOWER(detail) LIKE ? ESCAPE '\' OR ip LIKE ? ESCAPE '\')`,
			pat, pat, pat, pat, pat)
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From)
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until)
	}
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
	return q
}
