package replication

import (
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"fmt"

	"gorm.io/gorm"
)

// PlanInterval is a plan's own replication interval; nil follows the rule.
type PlanInterval struct {
	PlanID, PlanName string
	Seconds          *int64 `gorm:"column:replication_interval_seconds"`
}

// PlanIntervals lists every plan's interval, for the admins.
func (r *Replicas) PlanIntervals(ctx context.Context, v models.Viewer) ([]PlanInterval, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	var out []PlanInterval
	if err := r.db.Gorm.WithContext(ctx).Table("plans").Where("retired_at IS NULL").
		Select("id AS plan_id, name AS plan_name, replication_interval_seconds").Order("memory_mib, vcpus, disk_gib, name").
		Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list plan intervals: %w", err)
	}
	return out, nil
}

// SetPlanInterval sets how often the VMs of a plan are copied; nil
// returns the plan to the rule the members decided. Due times already set
// stay; the next run of each VM uses the new interval.
func (r *Replicas) SetPlanInterval(ctx context.Context, actor models.Actor, v models.Viewer, planID string, seconds *int64) error {
	if err := kit.RequireAdmin(v); err != nil {
		return err
	}
	if seconds != nil && (*seconds < rulebook.MinReplicationIntervalSeconds || *seconds > rulebook.MaxReplicationIntervalSeconds) {
		return models.Invalidf("interval_seconds", "Use %d to %d seconds, or leave empty for the rule.",
			rulebook.MinReplicationIntervalSeconds, rulebook.MaxReplicationIntervalSeconds)
	}
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		var p compute.Plan
		if err := kit.First(kit.ForUpdate(tx), &p, planID, "plan"); err != nil {
			return err
		}
		if err := tx.Table("plans").Where("id = ?", planID).Update("replication_interval_seconds", seconds).Error; err != nil {
			return fmt.Errorf("set interval of plan %s: %w", planID, err)
		}
		detail := map[string]any{"name": p.Name, "interval_seconds": nil}
		if seconds != nil {
			detail["interval_seconds"] = *seconds
		}
		return kit.RecordAudit(tx, actor, "plan.replication_interval", "plan", planID, detail)
	})
}
