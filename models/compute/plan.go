package compute

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Plan is a VM size the admins offer.
type Plan struct {
	ID        string
	Name      string
	VCPUs     int        `gorm:"column:vcpus"`
	MemoryMiB int        `gorm:"column:memory_mib"`
	DiskGiB   int        `gorm:"column:disk_gib"`
	RetiredAt *time.Time // no longer offered; kept for the VMs that used it
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Size is the plan as an amount of resources, the unit quota is counted in.
func (p *Plan) Size() rulebook.Entitlement {
	return rulebook.Entitlement{VCPUs: p.VCPUs, MemoryMiB: p.MemoryMiB, DiskGiB: p.DiskGiB}
}

// PlanInput is what an admin submits for a plan.
type PlanInput struct {
	Name      string
	VCPUs     int
	MemoryMiB int
	DiskGiB   int
}

// Bounds that keep a typo (MiB for GiB) from becoming a plan.
const (
	maxPlanVCPUs     = 128
	minPlanMemoryMiB = 128
	maxPlanMemoryMiB = 1 << 20 // 1 TiB
	maxPlanDiskGiB   = 64 << 10
)

func (in *PlanInput) validate() map[string]models.Msg {
	in.Name = strings.TrimSpace(in.Name)
	fields := map[string]models.Msg{}
	textField(fields, "name", in.Name, "Give the plan a name.", 50)
	if in.VCPUs < 1 || in.VCPUs > maxPlanVCPUs {
		fields["vcpus"] = models.Msgf("Use 1 to %d vCPUs.", maxPlanVCPUs)
	}
	if in.MemoryMiB < minPlanMemoryMiB || in.MemoryMiB > maxPlanMemoryMiB {
		fields["memory_mib"] = models.Msgf("Use %d to %d MiB of memory.", minPlanMemoryMiB, maxPlanMemoryMiB)
	}
	if in.DiskGiB < 1 || in.DiskGiB > maxPlanDiskGiB {
		fields["disk_gib"] = models.Msgf("Use 1 to %d GiB of disk.", maxPlanDiskGiB)
	}
	return fields
}

// Plans is the admins' list of VM sizes.
type Plans struct{ db *models.DB }

func NewPlans(db *models.DB) *Plans { return &Plans{db: db} }

// Create adds a plan.
func (s *Plans) Create(ctx context.Context, actor models.Actor, v models.Viewer, in PlanInput) (*Plan, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	if fields := in.validate(); len(fields) > 0 {
		return nil, models.InvalidMsgs(fields)
	}
	now := kit.UTCNow()
	p := &Plan{ID: kit.NewID(), Name: in.Name, VCPUs: in.VCPUs, MemoryMiB: in.MemoryMiB, DiskGiB: in.DiskGiB, CreatedAt: now, UpdatedAt: now}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(p).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Invalid(map[string]string{"name": "A plan with this name exists already."})
			}
			return fmt.Errorf("insert plan: %w", err)
		}
		return kit.RecordAudit(tx, actor, "plan.create", "plan", p.ID, planDetail(p))
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func planDetail(p *Plan) map[string]any {
	return map[string]any{"name": p.Name, "vcpus": p.VCPUs, "memory_mib": p.MemoryMiB, "disk_gib": p.DiskGiB}
}

// Update changes a plan. The sizes of a plan that VMs use are fixed, since
// quota and placement count those VMs by them; offer a new plan instead.
func (s *Plans) Update(ctx context.Context, actor models.Actor, v models.Viewer, id string, in PlanInput) (*Plan, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	if fields := in.validate(); len(fields) > 0 {
		return nil, models.InvalidMsgs(fields)
	}
	var p Plan
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := kit.First(kit.ForUpdate(tx), &p, id, "plan"); err != nil {
			return err
		}
		if p.RetiredAt != nil {
			return models.Conflict("This plan is retired and cannot be changed.")
		}
		if p.Size() != (rulebook.Entitlement{VCPUs: in.VCPUs, MemoryMiB: in.MemoryMiB, DiskGiB: in.DiskGiB}) {
			used, err := planUsed(tx, p.ID)
			if err != nil {
				return err
			}
			if used {
				return models.Conflict("Virtual machines use this plan, so its sizes cannot change; create a new plan instead.")
			}
		}
		p.Name, p.VCPUs, p.MemoryMiB, p.DiskGiB, p.UpdatedAt = in.Name, in.VCPUs, in.MemoryMiB, in.DiskGiB, kit.UTCNow()
		if err := tx.Save(&p).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Invalid(map[string]string{"name": "A plan with this name exists already."})
			}
			return fmt.Errorf("update plan %s: %w", id, err)
		}
		return kit.RecordAudit(tx, actor, "plan.update", "plan", p.ID, planDetail(&p))
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Delete removes a plan no VM ever used, and retires one that VMs used.
func (s *Plans) Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error {
	if err := kit.RequireAdmin(v); err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		var p Plan
		if err := kit.First(kit.ForUpdate(tx), &p, id, "plan"); err != nil {
			return err
		}
		used, err := planUsed(tx, id)
		if err != nil {
			return err
		}
		if used {
			if p.RetiredAt == nil {
				if err := tx.Model(&p).Updates(map[string]any{"retired_at": kit.UTCNow(), "updated_at": kit.UTCNow()}).Error; err != nil {
					return fmt.Errorf("retire plan %s: %w", id, err)
				}
			}
			return kit.RecordAudit(tx, actor, "plan.retire", "plan", id, map[string]any{"name": p.Name})
		}
		if err := tx.Delete(&Plan{}, "id = ?", id).Error; err != nil {
			return fmt.Errorf("delete plan %s: %w", id, err)
		}
		return kit.RecordAudit(tx, actor, "plan.delete", "plan", id, map[string]any{"name": p.Name})
	})
}

func planUsed(tx *gorm.DB, planID string) (bool, error) {
	var n int64
	if err := tx.Model(&VM{}).Where("plan_id = ?", planID).Count(&n).Error; err != nil {
		return false, fmt.Errorf("check use of plan %s: %w", planID, err)
	}
	return n > 0, nil
}

// List returns the plans on offer, smallest first; admins also see retired ones.
func (s *Plans) List(ctx context.Context, v models.Viewer) ([]Plan, error) {
	q := s.db.Gorm.WithContext(ctx)
	if !v.Admin {
		q = q.Where("retired_at IS NULL")
	}
	var out []Plan
	if err := q.Order("memory_mib, vcpus, disk_gib, name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	return out, nil
}

// Get loads a plan; members see only plans on offer.
func (s *Plans) Get(ctx context.Context, v models.Viewer, id string) (*Plan, error) {
	var p Plan
	if err := kit.First(s.db.Gorm.WithContext(ctx), &p, id, "plan"); err != nil {
		return nil, err
	}
	if p.RetiredAt != nil && !v.Admin {
		return nil, models.NotFoundError("plan")
	}
	return &p, nil
}
