package compute

import (
	"allmende/models"
	"allmende/models/membership"
	"allmende/models/rulebook"
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// EntitlementSource tells what a member's paid shares entitle them to.
// It is an interface so the VM domain does not depend on how the
// membership domain counts shares, and tests can hand in fixed figures.
type EntitlementSource interface {
	Entitlement(ctx context.Context, userID string) (rulebook.Entitlement, error)
}

// MembershipEntitlements reads entitlements from the member register.
type MembershipEntitlements struct{ Memberships *membership.Memberships }

// Entitlement is what userID's paid shares allow; an account without a
// membership is entitled to nothing.
func (m MembershipEntitlements) Entitlement(ctx context.Context, userID string) (rulebook.Entitlement, error) {
	o, err := m.Memberships.Overview(ctx, userID)
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return rulebook.Entitlement{}, nil
		}
		return rulebook.Entitlement{}, fmt.Errorf("entitlement of %s: %w", userID, err)
	}
	return o.Entitlement, nil
}

// FixedEntitlement entitles every account to the same; for tests and
// installations without a member register.
type FixedEntitlement rulebook.Entitlement

func (f FixedEntitlement) Entitlement(context.Context, string) (rulebook.Entitlement, error) {
	return rulebook.Entitlement(f), nil
}

// VMUsage is what a member's VMs take, next to what they may take.
type VMUsage struct {
	Used     rulebook.Entitlement
	Entitled rulebook.Entitlement
}

// Usage is the viewer's own usage and entitlement, for the VM pages.
func (s *VMs) Usage(ctx context.Context, v models.Viewer) (*VMUsage, error) {
	ent, err := s.entitlements.Entitlement(ctx, v.UserID)
	if err != nil {
		return nil, err
	}
	used, err := ownerUsage(s.db.Gorm.WithContext(ctx), v.UserID, "")
	if err != nil {
		return nil, err
	}
	return &VMUsage{Used: used, Entitled: ent}, nil
}

// ownerUsage sums the plans of the owner's VMs that are not deleted,
// leaving out exceptVMID (the VM being resized).
func ownerUsage(tx *gorm.DB, ownerID, exceptVMID string) (rulebook.Entitlement, error) {
	var u rulebook.Entitlement
	q := tx.Table("vms AS v").Joins("JOIN plans p ON p.id = v.plan_id").
		Where("v.owner_id = ? AND v.state <> ?", ownerID, VMDeleted)
	if exceptVMID != "" {
		q = q.Where("v.id <> ?", exceptVMID)
	}
	err := q.Select("COALESCE(SUM(p.vcpus), 0) AS vcpus, COALESCE(SUM(p.memory_mib), 0) AS memory_mib, COALESCE(SUM(p.disk_gib), 0) AS disk_gib").
		Row().Scan(&u.VCPUs, &u.MemoryMiB, &u.DiskGiB)
	if err != nil {
		return u, fmt.Errorf("sum usage of %s: %w", ownerID, err)
	}
	return u, nil
}

func addSizes(a, b rulebook.Entitlement) rulebook.Entitlement {
	return rulebook.Entitlement{VCPUs: a.VCPUs + b.VCPUs, MemoryMiB: a.MemoryMiB + b.MemoryMiB, DiskGiB: a.DiskGiB + b.DiskGiB}
}

// checkQuota refuses when the owner's VMs (without exceptVMID) plus size
// would exceed the entitlement, naming every resource that runs short.
func checkQuota(tx *gorm.DB, ownerID, exceptVMID string, size, ent rulebook.Entitlement) error {
	used, err := ownerUsage(tx, ownerID, exceptVMID)
	if err != nil {
		return err
	}
	total := addSizes(used, size)
	var short models.List
	if total.VCPUs > ent.VCPUs {
		short = append(short, models.Msgf("%d vCPUs of %d", total.VCPUs, ent.VCPUs))
	}
	if total.MemoryMiB > ent.MemoryMiB {
		short = append(short, models.Msgf("%d MiB memory of %d", total.MemoryMiB, ent.MemoryMiB))
	}
	if total.DiskGiB > ent.DiskGiB {
		short = append(short, models.Msgf("%d GiB disk of %d", total.DiskGiB, ent.DiskGiB))
	}
	if len(short) == 0 {
		return nil
	}
	m := models.Msgf("This would exceed what your paid shares entitle you to: your virtual machines would use %s. "+
		"Choose a smaller plan, delete a virtual machine, or subscribe more shares.", short)
	e := models.InvalidMsgs(map[string]models.Msg{"plan_id": m})
	e.Safe, e.Msgs[""] = m.String(), m // the refusal is the whole message, not "correct the marked fields"
	return e
}

// OwnerUsage sums what ownerID's VMs take, inside tx: the membership domain
// weighs a partial notice against it (membership.Memberships.SetUsage).
func OwnerUsage(tx *gorm.DB, ownerID string) (rulebook.Entitlement, error) {
	return ownerUsage(tx, ownerID, "")
}
