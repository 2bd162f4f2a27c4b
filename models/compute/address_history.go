package compute

import (
	"allmende/models/internal/kit"
	"context"
	"fmt"
	"net/netip"
	"time"

	"gorm.io/gorm"
)

// IPAssignment is one period in which a VM held an address. Unlike
// ip_allocations (a row while the address is taken), the history keeps
// every period, so that an abuse report naming an address and a time
// finds the VM of that time after the VM was deleted and its address
// given to another (models/moderation).
type IPAssignment struct {
	ID         string
	NetworkID  string
	Address    string
	VMID       string `gorm:"column:vm_id"`
	OwnerID    string
	AssignedAt time.Time
	ReleasedAt *time.Time
}

// recordAssignmentTx starts the history of an address a new VM took.
func recordAssignmentTx(tx *gorm.DB, alloc *IPAllocation, ownerID string, now time.Time) error {
	a := IPAssignment{ID: kit.NewID(), NetworkID: alloc.NetworkID, Address: alloc.Address, VMID: alloc.VMID,
		OwnerID: ownerID, AssignedAt: now.UTC()}
	if err := tx.Create(&a).Error; err != nil {
		return fmt.Errorf("record assignment of %s: %w", alloc.Address, err)
	}
	return nil
}

// releaseAssignmentTx ends the period of the address a VM held; a retried
// release leaves the first end in place.
func releaseAssignmentTx(tx *gorm.DB, vmID string, now time.Time) error {
	if err := tx.Model(&IPAssignment{}).Where("vm_id = ? AND released_at IS NULL", vmID).
		Update("released_at", now.UTC()).Error; err != nil {
		return fmt.Errorf("end assignment of vm %s: %w", vmID, err)
	}
	return nil
}

// AddressHolder is the VM that held an address at a moment.
type AddressHolder struct {
	VMID    string
	VMName  string
	OwnerID string
	Deleted bool
}

// HolderAt finds the VM that held address at t, reading through tx; ok is
// false when no VM of ours held it then.
func HolderAt(tx *gorm.DB, address string, t time.Time) (h AddressHolder, ok bool, err error) {
	addr, perr := netip.ParseAddr(address)
	if perr != nil {
		return h, false, nil
	}
	var rows []struct {
		VMID    string `gorm:"column:vm_id"`
		Name    string
		OwnerID string
		State   VMState
	}
	// The latest period that began at or before t and had not ended by t.
	err = tx.Table("ip_assignments AS a").Select("a.vm_id, v.name, a.owner_id, v.state").
		Joins("JOIN vms v ON v.id = a.vm_id").
		Where("a.address = ? AND a.assigned_at <= ? AND (a.released_at IS NULL OR a.released_at > ?)", addr.String(), t.UTC(), t.UTC()).
		Order("a.assigned_at DESC").Limit(1).Scan(&rows).Error
	if err != nil {
		return h, false, fmt.Errorf("find holder of %s at %s: %w", address, t, err)
	}
	if len(rows) == 0 {
		return h, false, nil
	}
	r := rows[0]
	return AddressHolder{VMID: r.VMID, VMName: r.Name, OwnerID: r.OwnerID, Deleted: r.State == VMDeleted}, true, nil
}

// AddressHistory lists the periods of an address, newest first (admins'
// view of a case).
func (s *VMs) AddressHistory(ctx context.Context, address string) ([]IPAssignment, error) {
	var out []IPAssignment
	if err := s.db.Gorm.WithContext(ctx).Where("address = ?", address).Order("assigned_at DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("history of %s: %w", address, err)
	}
	return out, nil
}
