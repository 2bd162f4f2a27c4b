package replication

import (
	"context"
	"fmt"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/internal/kit"

	"gorm.io/gorm"
)

// Stale is a replica volume no VM needs any more: the VM was deleted, or
// its replica host changed. The volume has the VM disk's pool and name on
// a host that is never the VM's primary (there it would be the VM's own
// disk).
type Stale struct {
	VMID              string
	HostID, HostURI   string
	Pool, Volume      string
	Staging           string // the volume runs write into before the replica (see StagingVolume)
	SourceURI, Domain string // where the checkpoint is; "" once the VM is deleted
	Checkpoint        string // the old copy's base on the source; "" for none
	Remove            bool   // false: the volume is in use again (the host is the VM's primary or replica host)
	Deleted           bool   // the VM is deleted: forget its replica row once the volume is gone
}

func (r *Replicas) load(tx *gorm.DB, vmID string) (*compute.VM, error) {
	var vm compute.VM
	if err := kit.First(tx, &vm, vmID, "virtual machine"); err != nil {
		return nil, err
	}
	return &vm, nil
}

// poolOf is the pool of the VM's image; "" if the image is gone.
func poolOf(tx *gorm.DB, imageID string) (string, error) {
	var pools []string
	if err := tx.Table("images").Where("id = ?", imageID).Limit(1).Pluck("pool", &pools).Error; err != nil {
		return "", fmt.Errorf("load pool of image %s: %w", imageID, err)
	}
	if len(pools) == 0 {
		return "", nil
	}
	return pools[0], nil
}

// DeletedReplicas lists the replicas of deleted VMs: their volumes go,
// then their rows (Forget).
func (r *Replicas) DeletedReplicas(ctx context.Context, limit int) ([]Stale, error) {
	var out []Stale
	err := r.db.Tx(ctx, func(tx *gorm.DB) error {
		var ids []string
		if err := tx.Table("vm_replicas AS r").Joins("JOIN vms v ON v.id = r.vm_id").Where("v.state = ?", compute.VMDeleted).
			Order("r.vm_id").Limit(limit).Pluck("r.vm_id", &ids).Error; err != nil {
			return fmt.Errorf("find replicas of deleted vms: %w", err)
		}
		for _, id := range ids {
			var rep Replica
			if err := tx.Where("vm_id = ?", id).Limit(1).Find(&rep).Error; err != nil {
				return fmt.Errorf("load replica of vm %s: %w", id, err)
			}
			s, err := r.staleTx(tx, id, rep.ReplicaHostID, "")
			if err != nil {
				return err
			}
			out = append(out, *s)
		}
		return nil
	})
	return out, err
}

// Forget removes the replica row of a deleted VM, whose replica volume is
// gone; the runs stay as history. A VM not deleted keeps its row.
func (r *Replicas) Forget(ctx context.Context, vmID string) error {
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM vm_replicas WHERE vm_id = ? AND vm_id IN (SELECT id FROM vms WHERE state = ?)", vmID, compute.VMDeleted)
		if res.Error != nil {
			return fmt.Errorf("forget replica of vm %s: %w", vmID, res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		return kit.RecordAudit(tx, models.SystemActor("replication.cleanup"), "replication.forget", "vm", vmID, nil)
	})
}

// StaleReplica describes the old replica of a VM on hostID, for the
// removal job enqueued when the VM's replica host changed.
func (r *Replicas) StaleReplica(ctx context.Context, args jobargs.ReplicaRemove) (*Stale, error) {
	var s *Stale
	err := r.db.Tx(ctx, func(tx *gorm.DB) (err error) {
		s, err = r.staleTx(tx, args.VMID, args.HostID, args.Checkpoint)
		return err
	})
	return s, err
}

func (r *Replicas) staleTx(tx *gorm.DB, vmID, hostID, checkpoint string) (*Stale, error) {
	vm, err := r.load(tx, vmID)
	if err != nil {
		return nil, err
	}
	var host compute.Host
	if err := tx.Where("id = ?", hostID).Limit(1).Find(&host).Error; err != nil {
		return nil, fmt.Errorf("load host %s: %w", hostID, err)
	}
	pool, err := poolOf(tx, vm.ImageID)
	if err != nil {
		return nil, err
	}
	var current []string
	if err := tx.Model(&Replica{}).Where("vm_id = ?", vmID).Pluck("replica_host_id", &current).Error; err != nil {
		return nil, fmt.Errorf("load replica of vm %s: %w", vmID, err)
	}
	s := &Stale{VMID: vmID, HostID: hostID, HostURI: host.URI, Pool: pool, Volume: vm.DiskVolume(),
		Staging: StagingVolume(vm), Checkpoint: checkpoint, Deleted: vm.State == compute.VMDeleted}
	// Never the VM's own disk: on its primary host the name is the disk's.
	// Nor a replica in use again (the admin changed the host back).
	s.Remove = host.ID != "" && pool != "" && host.ID != vm.HostID && (s.Deleted || len(current) == 0 || current[0] != hostID)
	if !s.Deleted && vm.HostID != "" {
		var src compute.Host
		if err := tx.Where("id = ?", vm.HostID).Limit(1).Find(&src).Error; err != nil {
			return nil, fmt.Errorf("load host %s: %w", vm.HostID, err)
		}
		s.SourceURI, s.Domain = src.URI, vm.DomainName()
	}
	return s, nil
}
