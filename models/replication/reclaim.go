package replication

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/internal/kit"
)

// StaleCopy is what a failed-over VM left on its old host: a domain that
// must never start again and its disk and seed volumes.
type StaleCopy struct {
	FailoverID string
	VMID       string
	Domain     string
	Pool       string
	Volumes    []string
}

// Stale lists what the reclaim job must remove from a fenced host that
// answers again: the copies of VMs that moved. A move whose job is still
// at work is left for the next round (Pending); one that failed, with its
// VM still on the host, leaves nothing stale there and is closed at once.
func (r *Replicas) Stale(ctx context.Context, hostID string) (stale []StaleCopy, pending int, err error) {
	err = r.db.Tx(ctx, func(tx *gorm.DB) error {
		type row struct {
			FailoverRecord
			VMHostID   string
			TaskStatus compute.TaskStatus
		}
		var rows []row
		if err := tx.Table("vm_failovers AS f").Select("f.*, v.host_id AS vm_host_id, t.status AS task_status").
			Joins("JOIN vms v ON v.id = f.vm_id").Joins("JOIN tasks t ON t.id = f.task_id").
			Where("f.from_host_id = ? AND f.cleaned_at IS NULL", hostID).Order("f.created_at, f.id").Scan(&rows).Error; err != nil {
			return fmt.Errorf("list failovers from host %s: %w", hostID, err)
		}
		for _, f := range rows {
			switch {
			case f.VMHostID != hostID:
				vm := compute.VM{ID: f.VMID}
				stale = append(stale, StaleCopy{FailoverID: f.ID, VMID: f.VMID, Domain: vm.DomainName(), Pool: f.Pool,
					Volumes: []string{f.OldVolume, vm.SeedVolume()}})
			case f.TaskStatus == compute.TaskQueued || f.TaskStatus == compute.TaskRunning:
				pending++
			default:
				note := "the failover did not finish; the virtual machine stays on this host"
				if err := tx.Model(&FailoverRecord{}).Where("id = ?", f.ID).
					Updates(map[string]any{"cleaned_at": r.now(), "cleanup_note": note}).Error; err != nil {
					return fmt.Errorf("close failover %s: %w", f.ID, err)
				}
				if err := kit.RecordAudit(tx, models.SystemActor("replication.reclaim"), "vm.failover_abandoned", "vm", f.VMID,
					map[string]any{"failover_id": f.ID, "host_id": hostID, "note": note}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return stale, pending, err
}

// StaleRemoved records that a stale copy is gone; wasRunning says the old
// host had it running (the fencing was wrong: it ran twice until now).
func (r *Replicas) StaleRemoved(ctx context.Context, failoverID string, wasRunning bool) error {
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		var f FailoverRecord
		if err := kit.First(kit.ForUpdate(tx), &f, failoverID, "failover"); err != nil {
			return err
		}
		if f.CleanedAt != nil {
			return nil
		}
		note := "stale domain and disk removed"
		if wasRunning {
			note = "the stale domain was RUNNING on the old host and was destroyed; the host was not fenced"
		}
		if err := tx.Model(&FailoverRecord{}).Where("id = ?", f.ID).
			Updates(map[string]any{"cleaned_at": r.now(), "cleanup_note": note}).Error; err != nil {
			return fmt.Errorf("record removal of failover %s: %w", f.ID, err)
		}
		return kit.RecordAudit(tx, models.SystemActor("replication.reclaim"), "vm.stale_copy_removed", "vm", f.VMID,
			map[string]any{"failover_id": f.ID, "host_id": f.FromHostID, "volume": f.OldVolume, "was_running": wasRunning, "note": note})
	})
}

// FencedHosts lists the hosts that are fenced.
func (r *Replicas) FencedHosts(ctx context.Context) ([]compute.Host, error) {
	var out []compute.Host
	if err := r.db.Gorm.WithContext(ctx).Where("fenced_at IS NOT NULL").Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list fenced hosts: %w", err)
	}
	return out, nil
}

// Unfence ends a host's fencing once it answers again and nothing stale is
// left on it (Stale lists nothing, nothing pending): the VMs that left it
// get their first copy back there (a full one) at once. It reports whether
// the host was unfenced.
func (r *Replicas) Unfence(ctx context.Context, hostID string) (bool, error) {
	done := false
	err := r.db.Tx(ctx, func(tx *gorm.DB) error {
		var h compute.Host
		if err := kit.First(kit.ForUpdate(tx), &h, hostID, "host"); err != nil {
			return err
		}
		if !h.Fenced() {
			return nil
		}
		var open int64
		if err := tx.Model(&FailoverRecord{}).Where("from_host_id = ? AND cleaned_at IS NULL", hostID).Count(&open).Error; err != nil {
			return fmt.Errorf("count failovers from host %s: %w", hostID, err)
		}
		if open > 0 {
			return nil
		}
		now := r.now()
		if err := tx.Model(&compute.Host{}).Where("id = ?", hostID).Updates(map[string]any{
			"fenced_at": nil, "fenced_by": "", "fence_method": "", "reachable": true, "last_error": "", "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("unfence host %s: %w", hostID, err)
		}
		if err := tx.Model(&Replica{}).Where("replica_host_id = ?", hostID).
			Updates(map[string]any{"next_run_at": now, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("schedule copies to host %s: %w", hostID, err)
		}
		done = true
		return kit.RecordAudit(tx, models.SystemActor("replication.reclaim"), "host.unfenced", "host", hostID, map[string]any{
			"name": h.Name, "fenced_at": h.FencedAt, "fenced_by": h.FencedBy, "epoch": h.FailoverEpoch,
			"note": "the host answers again and its stale copies are removed; it takes replicas again"})
	})
	return done, err
}

// RequestFence queues the fence command against a host that does not
// answer, in the admin's name; the job fails the host over when the
// command succeeds.
func (r *Replicas) RequestFence(ctx context.Context, actor models.Actor, v models.Viewer, hostID string) error {
	if err := kit.RequireAdmin(v); err != nil {
		return err
	}
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		var h compute.Host
		if err := kit.First(tx, &h, hostID, "host"); err != nil {
			return err
		}
		if h.Reachable {
			return models.Conflictf("Host %s answered at its last check; fence only a host that does not answer.", h.Name)
		}
		if err := kit.RecordAudit(tx, actor, "host.fence_requested", "host", h.ID, map[string]any{"name": h.Name}); err != nil {
			return err
		}
		_, err := kit.Enqueue(ctx, r.queue, tx, jobargs.HostFence{HostID: h.ID, UserID: actor.UserID, Email: actor.Email, IP: actor.IP},
			&river.InsertOpts{MaxAttempts: 1})
		return err
	})
}
