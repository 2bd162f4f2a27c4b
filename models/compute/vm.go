package compute

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"allmende/models/internal/like"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"
)

// VMState is where a VM stands. Stable states wait for the member; a
// transitional state means a job is working on the VM (and a task is
// queued or running).
type VMState string

const (
	VMProvisioning VMState = "provisioning"
	VMStopped      VMState = "stopped"
	VMStarting     VMState = "starting"
	VMRunning      VMState = "running"
	VMStopping     VMState = "stopping"
	VMRebooting    VMState = "rebooting"
	VMResizing     VMState = "resizing"
	VMDeleting     VMState = "deleting"
	VMDeleted      VMState = "deleted"
	VMError        VMState = "error"   // with a reason in words
	VMMissing      VMState = "missing" // the reconciler did not find its domain
)

var vmStates = map[VMState]bool{
	VMProvisioning: true, VMStopped: true, VMStarting: true, VMRunning: true, VMStopping: true, VMRebooting: true,
	VMResizing: true, VMDeleting: true, VMDeleted: true, VMError: true, VMMissing: true,
}

// Transitional reports whether a job is working on a VM in state s.
func (s VMState) Transitional() bool {
	switch s {
	case VMProvisioning, VMStarting, VMStopping, VMRebooting, VMResizing, VMDeleting:
		return true
	}
	return false
}

// DefaultShutdownTimeout is how long a shutdown waits for the guest before
// the VM is powered off.
const DefaultShutdownTimeout = 60 * time.Second

// VM is a member's virtual machine.
type VM struct {
	ID                     string
	OwnerID                string
	Name                   string
	State                  VMState
	StateReason            string  // why it is in error or missing, or stopped unexpectedly
	PriorState             VMState // the state before the current transitional one
	PlanID                 string
	ImageID                string
	HostID                 string
	MAC                    string `gorm:"column:mac"`
	SSHAuthorizedKeys      string `gorm:"column:ssh_authorized_keys"` // copied at creation, one per line
	UserData               string
	ShutdownTimeoutSeconds int
	// AutoRestart: start the VM again when it stops without a portal
	// action (vm_restart.go); on unless the member turns it off.
	AutoRestart           bool `gorm:"default:true"`
	AutoRestarts          int  // automatic restarts in the window that began at AutoRestartWindowAt
	AutoRestartWindowAt   *time.Time
	LastAutoRestartAt     *time.Time
	StoppedUnexpectedlyAt *time.Time // since when it is known stopped against its member's wish
	// DiskGeneration names the disk volume: 0 for the disk made at
	// creation, n after the n-th failover (a qcow2 overlay over the raw
	// copy on the new host; models/replication, failover.go).
	DiskGeneration int64
	// LockedAt: a sanction holds the VM (vm_lock.go); LockReason says which.
	LockedAt   *time.Time
	LockReason string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	DeletedAt  *time.Time
}

func (VM) TableName() string { return "vms" }

// DomainName is the VM's libvirt domain, made from its id only, never from
// text a member typed.
func (vm *VM) DomainName() string { return vmDomainPrefix + vm.ID }

// DiskVolume and SeedVolume are the VM's volumes in its pool.
func (vm *VM) DiskVolume() string { return DiskVolumeOf(vm.DomainName(), vm.DiskGeneration) }

// DiskVolumeOf is the disk volume of a domain at a disk generation.
func DiskVolumeOf(domain string, generation int64) string {
	if generation == 0 {
		return domain + "-disk"
	}
	return fmt.Sprintf("%s-disk-g%d", domain, generation)
}
func (vm *VM) SeedVolume() string { return vm.DomainName() + "-seed" }

// ShutdownTimeout is how long a shutdown waits before powering off.
func (vm *VM) ShutdownTimeout() time.Duration {
	return time.Duration(vm.ShutdownTimeoutSeconds) * time.Second
}

// vmDomainPrefix marks the portal's domains on a host; the reconciler
// reports unknown domains with it as orphans and ignores all others.
const vmDomainPrefix = "allmende-"

// VMSummary is a VM with what lists show about it.
type VMSummary struct {
	VM
	OwnerEmail string
	PlanName   string
	VCPUs      int `gorm:"column:vcpus"`
	MemoryMiB  int `gorm:"column:memory_mib"`
	DiskGiB    int `gorm:"column:disk_gib"`
	ImageName  string
	HostName   string
	IPAddress  string `gorm:"column:ip_address"`
	// HostDown: the host's last inventory read failed (or it is fenced);
	// the VM's page says "host not answering".
	HostDown   bool
	HostFenced bool
}

// Allows reports whether action a may start from the VM's state, for the
// buttons a page shows.
func (s *VMSummary) Allows(a VMAction) bool { return s.State.Allows(a) }

// VMDetail is one VM's page: the summary, its network and its tasks.
type VMDetail struct {
	VMSummary
	NetworkName string
	CIDR        string
	Gateway     string
	ActiveTask  *Task
	Tasks       []Task // newest first, at most 20
}

// VMs runs members' virtual machines.
type VMs struct {
	db           *models.DB
	queue        models.Queue
	entitlements EntitlementSource
	clock        models.Clock   // paces automatic restarts
	guard        PlacementGuard // nil: placement looks at the host alone
}

// NewVMs wires the service; entitlements tells what each member's paid
// shares allow (see MembershipEntitlements), and clock paces automatic
// restarts (vm_restart.go).
func NewVMs(db *models.DB, queue models.Queue, entitlements EntitlementSource, clock models.Clock) *VMs {
	return &VMs{db: db, queue: queue, entitlements: entitlements, clock: clock}
}

var vmNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

func validateVMName(name string) string {
	if !vmNameRE.MatchString(name) {
		return "Use 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen."
	}
	return ""
}

// summaryQuery selects VMSummary rows; callers add conditions on v.*.
func summaryQuery(tx *gorm.DB) *gorm.DB {
	return tx.Table("vms AS v").Select(`v.*, u.email AS owner_email, p.name AS plan_name, p.vcpus, p.memory_mib, p.disk_gib,
		i.name AS image_name, h.name AS host_name, COALESCE(a.address, '') AS ip_address,
		CASE WHEN (h.reachable = FALSE AND h.refreshed_at IS NOT NULL) OR h.fenced_at IS NOT NULL THEN 1 ELSE 0 END AS host_down,
		CASE WHEN h.fenced_at IS NOT NULL THEN 1 ELSE 0 END AS host_fenced`).
		Joins("JOIN users u ON u.id = v.owner_id").
		Joins("JOIN plans p ON p.id = v.plan_id").
		Joins("JOIN images i ON i.id = v.image_id").
		Joins("JOIN hosts h ON h.id = v.host_id").
		Joins("LEFT JOIN ip_allocations a ON a.vm_id = v.id")
}

// VMFilter narrows a list of VMs.
type VMFilter struct {
	OwnerID        string // admins: one member's VMs
	HostID         string
	IncludeDeleted bool
	// Query matches a part of the name or the IP address (and, for
	// admins, of the owner's e-mail address), without regard to case.
	Query string
	// Limit is a page's size (0: all); Offset skips that many VMs.
	Limit, Offset int
}

// VMPageSize is how many VMs a page of the list shows.
const VMPageSize = 50

// List returns the VMs the viewer may see, by name.
func (s *VMs) List(ctx context.Context, v models.Viewer, f VMFilter) ([]VMSummary, error) {
	q := filterVMs(v.Scope(summaryQuery(s.db.Gorm.WithContext(ctx)), "v.owner_id"), v, f)
	q = q.Order("LOWER(v.name), v.id")
	if f.Limit > 0 {
		q = q.Limit(f.Limit).Offset(max(f.Offset, 0))
	}
	var out []VMSummary
	if err := q.Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list vms: %w", err)
	}
	return out, nil
}

// Count is how many VMs of List's match f on all pages (Limit and Offset
// aside).
func (s *VMs) Count(ctx context.Context, v models.Viewer, f VMFilter) (int, error) {
	q := filterVMs(v.Scope(summaryQuery(s.db.Gorm.WithContext(ctx)), "v.owner_id"), v, f)
	var n int64
	if err := q.Select("COUNT(*)").Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("count vms: %w", err)
	}
	return int(n), nil
}

// filterVMs narrows a summaryQuery to f.
func filterVMs(q *gorm.DB, v models.Viewer, f VMFilter) *gorm.DB {
	if f.OwnerID != "" {
		q = q.Where("v.owner_id = ?", f.OwnerID)
	}
	if f.HostID != "" {
		q = q.Where("v.host_id = ?", f.HostID)
	}
	if !f.IncludeDeleted {
		q = q.Where("v.state <> ?", VMDeleted)
	}
	if term := strings.TrimSpace(f.Query); term != "" {
		pattern := "%" + like.Escape(strings.ToLower(term)) + "%"
		if v.Admin {
			q = q.Where(`(LOWER(v.name) LIKE ? ESCAPE '\' OR COALESCE(a.address, '') LIKE ? ESCAPE '\' OR LOWER(u.email) LIKE ? ESCAPE '\')`, pattern, pattern, pattern)
		} else {
			q = q.Where(`(LOWER(v.name) LIKE ? ESCAPE '\' OR COALESCE(a.address, '') LIKE ? ESCAPE '\')`, pattern, pattern)
		}
	}
	return q
}

// Get is one VM's page; another member's VM is not found.
func (s *VMs) Get(ctx context.Context, v models.Viewer, id string) (*VMDetail, error) {
	db := s.db.Gorm.WithContext(ctx)
	var rows []VMSummary
	if err := v.Scope(summaryQuery(db), "v.owner_id").Where("v.id = ?", id).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("load vm %s: %w", id, err)
	}
	if len(rows) == 0 {
		return nil, models.NotFoundError("virtual machine")
	}
	d := &VMDetail{VMSummary: rows[0]}
	var nets []Network
	if err := db.Joins("JOIN ip_allocations a ON a.network_id = networks.id").Where("a.vm_id = ?", id).Find(&nets).Error; err != nil {
		return nil, fmt.Errorf("load network of vm %s: %w", id, err)
	}
	if len(nets) > 0 {
		d.NetworkName, d.CIDR, d.Gateway = nets[0].Name, nets[0].CIDR, nets[0].Gateway
	}
	if err := db.Where("vm_id = ?", id).Order("id DESC").Limit(20).Find(&d.Tasks).Error; err != nil {
		return nil, fmt.Errorf("load tasks of vm %s: %w", id, err)
	}
	for i := range d.Tasks {
		if d.Tasks[i].Active() {
			d.ActiveTask = &d.Tasks[i]
			break
		}
	}
	return d, nil
}

// loadVM reads a VM the viewer may see, locked for the transaction; any
// other is "not found".
func loadVM(tx *gorm.DB, v models.Viewer, id string) (*VM, error) {
	var vm VM
	err := kit.ForUpdate(tx).First(&vm, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !v.Owns(vm.OwnerID)) {
		return nil, models.NotFoundError("virtual machine")
	}
	if err != nil {
		return nil, fmt.Errorf("load vm %s: %w", id, err)
	}
	return &vm, nil
}

// SetShutdownTimeout sets how long a shutdown waits for the guest before
// powering the VM off.
func (s *VMs) SetShutdownTimeout(ctx context.Context, actor models.Actor, v models.Viewer, vmID string, timeout time.Duration) error {
	if timeout < 10*time.Second || timeout > time.Hour {
		return models.Invalid(map[string]string{"shutdown_timeout": "Use 10 seconds to 1 hour."})
	}
	secs := int(timeout / time.Second)
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		vm, err := loadVM(tx, v, vmID)
		if err != nil {
			return err
		}
		if vm.State == VMDeleted {
			return models.Conflict("This virtual machine has been deleted.")
		}
		if err := tx.Model(&VM{}).Where("id = ?", vmID).
			Updates(map[string]any{"shutdown_timeout_seconds": secs, "updated_at": kit.UTCNow()}).Error; err != nil {
			return fmt.Errorf("set shutdown timeout of vm %s: %w", vmID, err)
		}
		return kit.RecordAudit(tx, actor, "vm.shutdown_timeout", "vm", vmID, map[string]any{"seconds": secs})
	})
}

// authorizedKeysText joins keys into the VM's authorized_keys text.
func authorizedKeysText(keys []SSHKey) string {
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k.PublicKey
	}
	return strings.Join(lines, "\n")
}
