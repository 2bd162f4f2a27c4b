package compute

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// A locked VM is held by a sanction (models/moderation): nobody starts,
// reboots, resizes, reprovisions or deletes it until the sanction ends,
// and the reconciler does not restart it. Its console stays open so that
// its member can look and clean up. Moderation decides what is locked;
// compute only keeps the flag and refuses the actions.

// lockedActions are refused while a VM is locked. Shutdown and power off
// stay allowed: they take nothing away from the sanction.
var lockedActions = map[VMAction]bool{ActionCreate: true, ActionReprovision: true, ActionStart: true,
	ActionReboot: true, ActionResize: true, ActionDelete: true, ActionRestart: true}

// checkLocked refuses an action on a locked VM.
func checkLocked(vm *VM, a VMAction) error {
	if vm.LockedAt == nil || !lockedActions[a] {
		return nil
	}
	return models.Conflict("This virtual machine is suspended (" + vm.LockReason + "); it cannot be " + vmActions[a].past +
		" until the sanction ends. Its console stays open. See Sanctions for the reason and how to appeal.")
}

// SetLockTx locks a VM (reason not empty) or unlocks it (reason empty),
// inside moderation's transaction. It reports whether anything changed.
func SetLockTx(tx *gorm.DB, vmID, reason string, now time.Time) (bool, error) {
	q := tx.Model(&VM{}).Where("id = ?", vmID)
	set := map[string]any{"lock_reason": reason, "updated_at": kit.UTCNow()}
	if reason == "" {
		q = q.Where("locked_at IS NOT NULL")
		set["locked_at"] = nil
	} else {
		q = q.Where("locked_at IS NULL OR lock_reason <> ?", reason)
		set["locked_at"] = now.UTC()
	}
	res := q.Updates(set)
	if res.Error != nil {
		return false, fmt.Errorf("lock vm %s: %w", vmID, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// ResourceHold keeps a member from creating VMs.
type ResourceHold struct {
	UserID    string
	Reason    string
	CreatedAt time.Time
}

// SetHoldTx holds a member's use of resources (reason not empty) or ends
// the hold (reason empty).
func SetHoldTx(tx *gorm.DB, userID, reason string, now time.Time) error {
	if err := tx.Where("user_id = ?", userID).Delete(&ResourceHold{}).Error; err != nil {
		return fmt.Errorf("end hold of %s: %w", userID, err)
	}
	if reason == "" {
		return nil
	}
	if err := tx.Create(&ResourceHold{UserID: userID, Reason: reason, CreatedAt: now.UTC()}).Error; err != nil {
		return fmt.Errorf("hold %s: %w", userID, err)
	}
	return nil
}

// checkNoHoldTx refuses a new VM to a member whose use is suspended.
func checkNoHoldTx(tx *gorm.DB, userID string) error {
	var holds []ResourceHold
	if err := tx.Where("user_id = ?", userID).Limit(1).Find(&holds).Error; err != nil {
		return fmt.Errorf("load hold of %s: %w", userID, err)
	}
	if len(holds) > 0 {
		return models.Conflict("Your use of the cooperative's resources is suspended (" + holds[0].Reason +
			"), so you cannot create virtual machines. See Sanctions for the reason and how to appeal.")
	}
	return nil
}

// VMsOfOwnerTx lists the ids of a member's VMs that are not deleted.
func VMsOfOwnerTx(tx *gorm.DB, ownerID string) ([]string, error) {
	var ids []string
	if err := tx.Model(&VM{}).Where("owner_id = ? AND state <> ?", ownerID, VMDeleted).Order("id").Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("list vms of %s: %w", ownerID, err)
	}
	return ids, nil
}
