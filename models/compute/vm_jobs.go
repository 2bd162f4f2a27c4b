package compute

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gorm.io/gorm"
)

// VMJobView is everything a VM worker needs, read in one call so that the
// worker never assembles names or sizes itself.
type VMJobView struct {
	VM VM

	// Libvirt names, derived from the VM's id only.
	DomainName string
	DiskVolume string // in DiskPool, made from the image
	SeedVolume string // the cloud-init seed (NoCloud), in DiskPool
	DiskPool   string // the image's pool

	VCPUs     int
	MemoryMiB int
	DiskGiB   int

	ImagePool             string
	ImageVolume           string
	ImageFormat           string
	ImageVirtualSizeBytes int64
	// Direct kernel boot from the image (volumes in ImagePool); all empty
	// when the VM boots from its disk.
	KernelVolume  string
	InitrdVolume  string
	KernelCmdline string

	HostID     string
	HostURI    string
	DomainType string // "kvm", "qemu", or "" for the worker to choose

	// Network; all empty when the host has no network for VMs.
	NetworkLibvirtName string // a libvirt network, or
	NetworkBridge      string // a host bridge
	IPAddress          string
	PrefixLength       int    // of CIDR, for the guest's address
	CIDR               string // e.g. 192.168.122.0/24
	Gateway            string
	DNS                []string

	MAC               string
	Hostname          string   // the VM's name, for the guest
	SSHAuthorizedKeys []string // lines for authorized_keys
	UserData          string
	ShutdownTimeout   time.Duration
}

// ForJob reads what a worker needs to act on a VM, in any state: the
// worker decides what a deleted VM means for its job.
func (s *VMs) ForJob(ctx context.Context, vmID string) (*VMJobView, error) {
	return s.ForJobOn(ctx, vmID, "")
}

// ForJobOn is ForJob as if the VM were on host hostID ("": its own host),
// for the failover job, which defines the VM on its replica host before
// the VM moves there.
func (s *VMs) ForJobOn(ctx context.Context, vmID, hostID string) (*VMJobView, error) {
	db := s.db.Gorm.WithContext(ctx)
	var vm VM
	if err := kit.First(db, &vm, vmID, "virtual machine"); err != nil {
		return nil, err
	}
	if hostID == "" {
		hostID = vm.HostID
	}
	var plan Plan
	if err := kit.First(db, &plan, vm.PlanID, "plan"); err != nil {
		return nil, err
	}
	var img Image
	if err := kit.First(db, &img, vm.ImageID, "image"); err != nil {
		return nil, err
	}
	var host placementHost
	if err := db.Table("hosts").Where("id = ?", hostID).Take(&host).Error; err != nil {
		return nil, fmt.Errorf("load host %s of vm %s: %w", hostID, vm.ID, err)
	}
	j := &VMJobView{
		VM: vm, DomainName: vm.DomainName(), DiskVolume: vm.DiskVolume(), SeedVolume: vm.SeedVolume(), DiskPool: img.Pool,
		VCPUs: plan.VCPUs, MemoryMiB: plan.MemoryMiB, DiskGiB: plan.DiskGiB,
		ImagePool: img.Pool, ImageVolume: img.Volume, ImageFormat: img.Format, ImageVirtualSizeBytes: img.VirtualSizeBytes,
		KernelVolume: img.KernelVolume, InitrdVolume: img.InitrdVolume, KernelCmdline: img.KernelCmdline,
		HostID: host.ID, HostURI: host.URI, DomainType: host.DomainType,
		MAC: vm.MAC, Hostname: vm.Name, UserData: vm.UserData, ShutdownTimeout: vm.ShutdownTimeout(),
	}
	if vm.SSHAuthorizedKeys != "" {
		j.SSHAuthorizedKeys = strings.Split(vm.SSHAuthorizedKeys, "\n")
	}
	var allocs []IPAllocation
	if err := db.Where("vm_id = ?", vm.ID).Find(&allocs).Error; err != nil {
		return nil, fmt.Errorf("load address of vm %s: %w", vm.ID, err)
	}
	if len(allocs) > 0 {
		var n Network
		if err := kit.First(db, &n, allocs[0].NetworkID, "network"); err != nil {
			return nil, err
		}
		j.NetworkLibvirtName, j.NetworkBridge = n.LibvirtNetwork, n.Bridge
		j.IPAddress, j.CIDR, j.Gateway, j.DNS = allocs[0].Address, n.CIDR, n.Gateway, n.DNSServers()
		if p, err := netip.ParsePrefix(n.CIDR); err == nil {
			j.PrefixLength = p.Bits()
		}
	}
	return j, nil
}

// SetState records the state a worker brought the VM to, with a reason in
// words for error and missing. Deleted is not set here (see MarkDeleted),
// and a deleted VM stays deleted.
func (s *VMs) SetState(ctx context.Context, vmID string, state VMState, reason string) error {
	if !vmStates[state] || state == VMDeleted {
		return fmt.Errorf("set state of vm %s: %q is not a state a worker may set", vmID, state)
	}
	if state != VMError && state != VMMissing {
		reason = ""
	}
	set := map[string]any{"state": state, "state_reason": kit.Truncate(strings.TrimSpace(reason), 2000), "updated_at": kit.UTCNow()}
	if !state.Transitional() {
		set["prior_state"] = ""
	}
	if state == VMRunning || state == VMStopped {
		// The worker has seen what the domain is; a failed restart (error)
		// keeps the record of the unexpected stop.
		set["stopped_unexpectedly_at"] = nil
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&VM{}).Where("id = ? AND state <> ?", vmID, VMDeleted).Updates(set)
		if res.Error != nil {
			return fmt.Errorf("set state of vm %s: %w", vmID, res.Error)
		}
		if res.RowsAffected == 1 {
			return nil
		}
		var vm VM
		if err := kit.First(tx, &vm, vmID, "virtual machine"); err != nil {
			return err
		}
		return models.Conflict("This virtual machine has been deleted.")
	})
}

// MarkDeleted records that the VM's domain and volumes are gone and
// releases its address. It is idempotent, so a retried delete job may call
// it again.
func (s *VMs) MarkDeleted(ctx context.Context, vmID string) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		vm, err := loadVM(tx, models.Viewer{Admin: true}, vmID)
		if err != nil {
			return err
		}
		if err := tx.Where("vm_id = ?", vmID).Delete(&IPAllocation{}).Error; err != nil {
			return fmt.Errorf("release address of vm %s: %w", vmID, err)
		}
		if err := releaseAssignmentTx(tx, vmID, s.clock.Now()); err != nil {
			return err
		}
		if vm.State == VMDeleted {
			return nil
		}
		now := kit.UTCNow()
		if err := tx.Model(&VM{}).Where("id = ?", vmID).Updates(map[string]any{
			"state": VMDeleted, "state_reason": "", "prior_state": "", "deleted_at": now, "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("mark vm %s deleted: %w", vmID, err)
		}
		if err := resolveDriftOfVM(tx, vmID, now); err != nil {
			return err
		}
		return kit.RecordAudit(tx, models.SystemActor("vm.delete"), "vm.deleted", "vm", vmID, map[string]any{"name": vm.Name})
	})
}
