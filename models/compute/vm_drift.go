package compute

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ExpectedDomain is a domain the database expects on a host.
type ExpectedDomain struct {
	VMID       string
	DomainName string
	State      VMState
	Running    bool // whether the domain should be running
}

// ObservedDomain is a domain the reconciler found on a host.
type ObservedDomain struct {
	Name    string
	Running bool
	// GuestShutdown: the guest powered itself off (poweroff inside the VM),
	// which is its member's choice, not an unexpected stop.
	GuestShutdown bool
}

// Kinds of drift reports.
const (
	DriftMismatch = "mismatch" // running where stopped is expected, or the reverse
	DriftOrphan   = "orphan"   // an allmende- domain the database does not know
)

// DriftReport is something the reconciler found that the database did not
// expect. Reports are kept when resolved; nothing is done to the domain.
type DriftReport struct {
	ID          string
	HostID      string
	Kind        string
	DomainName  string
	VMID        *string `gorm:"column:vm_id"`
	Detail      string
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	ResolvedAt  *time.Time
}

// DriftOverview is the admins' page of what the hosts disagree about.
type DriftOverview struct {
	Reports []DriftReport // open, by host and domain
	Missing []VMSummary   // VMs whose domain vanished
}

// missingReason is what a member reads on a VM whose domain vanished.
const missingReason = "the virtual machine disappeared from its host"

// Expected lists the domains the database expects on a host: every VM
// placed there that is not deleted.
func (s *VMs) Expected(ctx context.Context, hostID string) ([]ExpectedDomain, error) {
	var vms []VM
	if err := s.db.Gorm.WithContext(ctx).Where("host_id = ? AND state <> ?", hostID, VMDeleted).Order("id").Find(&vms).Error; err != nil {
		return nil, fmt.Errorf("list vms of host %s: %w", hostID, err)
	}
	out := make([]ExpectedDomain, len(vms))
	for i, vm := range vms {
		out[i] = ExpectedDomain{VMID: vm.ID, DomainName: vm.DomainName(), State: vm.State, Running: wantsRunning(vm.State)}
	}
	return out, nil
}

// wantsRunning says whether a VM in state s should end up running.
func wantsRunning(s VMState) bool {
	switch s {
	case VMRunning, VMStarting, VMRebooting, VMProvisioning:
		return true
	}
	return false
}

// RecordDrift compares what the reconciler found on a host with the
// database. A running or stopped VM whose domain is gone becomes missing;
// a running VM whose domain is shut off is started again, or left stopped
// (unexpectedStopTx, vm_restart.go); a VM running against its state, or
// the reverse, and an allmende- domain the database does not know are
// reported to the admins. VMs a job is working on are left alone. Reports
// no longer observed are resolved.
func (s *VMs) RecordDrift(ctx context.Context, hostID string, found []ObservedDomain) error {
	observed := make(map[string]ObservedDomain, len(found))
	for _, d := range found {
		observed[d.Name] = d
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		var vms []VM
		if err := kit.ForUpdate(tx).Where("host_id = ? AND state <> ?", hostID, VMDeleted).Order("id").Find(&vms).Error; err != nil {
			return fmt.Errorf("load vms of host %s: %w", hostID, err)
		}
		now := kit.UTCNow()
		known := map[string]bool{}
		current := map[string]DriftReport{} // by kind + domain
		keep := map[string]bool{}           // open reports of VMs left alone
		for _, vm := range vms {
			name := vm.DomainName()
			known[name] = true
			if vm.State.Transitional() {
				keep[DriftMismatch+"/"+name] = true
				continue
			}
			if vm.State != VMRunning && vm.State != VMStopped {
				continue
			}
			d, ok := observed[name]
			if !ok {
				if err := s.markMissingTx(tx, &vm, now); err != nil {
					return err
				}
				continue
			}
			if d.Running && vm.StoppedUnexpectedlyAt != nil {
				if err := clearUnexpectedStopTx(tx, vm.ID); err != nil {
					return err
				}
			}
			if vm.State == VMRunning && !d.Running && d.GuestShutdown {
				if err := guestShutdownTx(tx, &vm); err != nil {
					return err
				}
				continue // the database agrees with libvirt now
			}
			if vm.State == VMRunning && !d.Running {
				after, err := s.unexpectedStopTx(ctx, tx, &vm)
				if err != nil {
					return err
				}
				switch after {
				case VMStarting: // restarting: its report, if any, waits for the outcome
					keep[DriftMismatch+"/"+name] = true
					continue
				case VMStopped: // the database agrees with libvirt now
					continue
				}
			}
			if d.Running != (vm.State == VMRunning) {
				id := vm.ID
				current[DriftMismatch+"/"+name] = DriftReport{Kind: DriftMismatch, DomainName: name, VMID: &id,
					Detail: fmt.Sprintf("The database has it %s; libvirt reports it %s.", vm.State, runningWord(d.Running))}
			}
		}
		for _, d := range found {
			if strings.HasPrefix(d.Name, vmDomainPrefix) && !known[d.Name] {
				current[DriftOrphan+"/"+d.Name] = DriftReport{Kind: DriftOrphan, DomainName: d.Name,
					Detail: fmt.Sprintf("A domain the database does not know, %s.", runningWord(d.Running))}
			}
		}
		return storeDriftTx(tx, hostID, current, keep, now)
	})
}

// clearUnexpectedStopTx forgets that a VM stopped unexpectedly: it runs.
func clearUnexpectedStopTx(tx *gorm.DB, vmID string) error {
	if err := tx.Model(&VM{}).Where("id = ? AND state = ?", vmID, VMRunning).
		Updates(map[string]any{"stopped_unexpectedly_at": nil, "state_reason": ""}).Error; err != nil {
		return fmt.Errorf("clear unexpected stop of vm %s: %w", vmID, err)
	}
	return nil
}

func runningWord(running bool) string {
	if running {
		return "running"
	}
	return "stopped"
}

func (s *VMs) markMissingTx(tx *gorm.DB, vm *VM, now time.Time) error {
	res := tx.Model(&VM{}).Where("id = ? AND state = ?", vm.ID, vm.State).
		Updates(map[string]any{"state": VMMissing, "state_reason": missingReason, "prior_state": "", "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("mark vm %s missing: %w", vm.ID, res.Error)
	}
	return kit.RecordAudit(tx, models.SystemActor("reconcile"), "vm.missing", "vm", vm.ID, map[string]any{"from": vm.State, "host_id": vm.HostID})
}

// storeDriftTx refreshes the open reports of a host: seen ones get a new
// last-seen time, new ones are added, and those no longer seen (unless in
// keep) are resolved.
func storeDriftTx(tx *gorm.DB, hostID string, current map[string]DriftReport, keep map[string]bool, now time.Time) error {
	var open []DriftReport
	if err := tx.Where("host_id = ? AND resolved_at IS NULL", hostID).Find(&open).Error; err != nil {
		return fmt.Errorf("load drift of host %s: %w", hostID, err)
	}
	for _, r := range open {
		key := r.Kind + "/" + r.DomainName
		set := map[string]any{"last_seen_at": now}
		if cur, seen := current[key]; seen {
			set["detail"] = cur.Detail
			delete(current, key)
		} else if keep[key] {
			continue
		} else {
			set = map[string]any{"resolved_at": now}
		}
		if err := tx.Model(&DriftReport{}).Where("id = ?", r.ID).Updates(set).Error; err != nil {
			return fmt.Errorf("update drift report %s: %w", r.ID, err)
		}
	}
	for _, r := range current {
		r.ID, r.HostID, r.FirstSeenAt, r.LastSeenAt = kit.NewID(), hostID, now, now
		if err := tx.Create(&r).Error; err != nil {
			return fmt.Errorf("insert drift report: %w", err)
		}
	}
	return nil
}

// resolveDriftOfVM closes the open reports about a VM that is gone.
func resolveDriftOfVM(tx *gorm.DB, vmID string, now time.Time) error {
	if err := tx.Model(&DriftReport{}).Where("vm_id = ? AND resolved_at IS NULL", vmID).
		Update("resolved_at", now).Error; err != nil {
		return fmt.Errorf("resolve drift of vm %s: %w", vmID, err)
	}
	return nil
}

// Drift is the admins' page of open drift reports and missing VMs.
func (s *VMs) Drift(ctx context.Context, v models.Viewer) (*DriftOverview, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	db := s.db.Gorm.WithContext(ctx)
	var o DriftOverview
	if err := db.Where("resolved_at IS NULL").Order("host_id, domain_name, kind").Find(&o.Reports).Error; err != nil {
		return nil, fmt.Errorf("list drift reports: %w", err)
	}
	if err := summaryQuery(db).Where("v.state = ?", VMMissing).Order("v.id").Scan(&o.Missing).Error; err != nil {
		return nil, fmt.Errorf("list missing vms: %w", err)
	}
	return &o, nil
}
