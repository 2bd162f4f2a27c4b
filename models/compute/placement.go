package compute

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"
)

// HostVMSettings are an admin's choices for the VMs of a host.
type HostVMSettings struct {
	// How far vCPUs and memory may be promised beyond the hardware, in
	// percent: 400 lets a host of 8 CPUs carry VMs with 32 vCPUs.
	CPUOvercommitPercent    int `gorm:"column:cpu_overcommit_percent"`
	MemoryOvercommitPercent int `gorm:"column:memory_overcommit_percent"`
	// DomainType is the libvirt domain type ("kvm" or "qemu"); empty lets
	// the worker choose kvm when the host offers it.
	DomainType string
}

// Defaults, as the migration sets them.
const (
	DefaultCPUOvercommitPercent    = 400
	DefaultMemoryOvercommitPercent = 100
)

// VMSettings reads a host's VM settings.
func (h *Hosts) VMSettings(ctx context.Context, hostID string) (*HostVMSettings, error) {
	var s []HostVMSettings
	if err := h.db.Gorm.WithContext(ctx).Table("hosts").Where("id = ?", hostID).
		Select("cpu_overcommit_percent, memory_overcommit_percent, domain_type").Scan(&s).Error; err != nil {
		return nil, fmt.Errorf("load vm settings of host %s: %w", hostID, err)
	}
	if len(s) == 0 {
		return nil, models.NotFoundError("host")
	}
	return &s[0], nil
}

// SetVMSettings changes a host's VM settings. Lowering a ratio below what
// the host's VMs already take is allowed: it only stops new placements.
func (h *Hosts) SetVMSettings(ctx context.Context, actor models.Actor, v models.Viewer, hostID string, in HostVMSettings) error {
	if err := kit.RequireAdmin(v); err != nil {
		return err
	}
	in.DomainType = strings.ToLower(strings.TrimSpace(in.DomainType))
	fields := map[string]string{}
	if in.CPUOvercommitPercent < 100 || in.CPUOvercommitPercent > 2000 {
		fields["cpu_overcommit_percent"] = "Use 100 to 2000 percent (1.0 to 20.0)."
	}
	if in.MemoryOvercommitPercent < 50 || in.MemoryOvercommitPercent > 300 {
		fields["memory_overcommit_percent"] = "Use 50 to 300 percent (0.5 to 3.0)."
	}
	if in.DomainType != "" && in.DomainType != "kvm" && in.DomainType != "qemu" {
		fields["domain_type"] = "Choose kvm, qemu or automatic."
	}
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return h.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Host{}).Where("id = ?", hostID).Updates(map[string]any{
			"cpu_overcommit_percent": in.CPUOvercommitPercent, "memory_overcommit_percent": in.MemoryOvercommitPercent,
			"domain_type": in.DomainType, "updated_at": kit.UTCNow(),
		})
		if res.Error != nil {
			return fmt.Errorf("set vm settings of host %s: %w", hostID, res.Error)
		}
		if res.RowsAffected == 0 {
			return models.NotFoundError("host")
		}
		return kit.RecordAudit(tx, actor, "host.vm_settings", "host", hostID, map[string]any{
			"cpu_overcommit_percent": in.CPUOvercommitPercent, "memory_overcommit_percent": in.MemoryOvercommitPercent,
			"domain_type": in.DomainType})
	})
}

// placementHost is a host as placement sees it.
type placementHost struct {
	Host
	HostVMSettings
}

const (
	mib = 1 << 20
	gib = 1 << 30
)

// hostRoom is what a host can still take for VMs whose disks live in pool.
type hostRoom struct {
	VCPUs, MemoryMiB, DiskGiB int64
}

func (r hostRoom) fits(size rulebook.Entitlement) bool {
	return int64(size.VCPUs) <= r.VCPUs && int64(size.MemoryMiB) <= r.MemoryMiB && int64(size.DiskGiB) <= r.DiskGiB
}

// roomOn computes what host h can still take for a VM with its disk in
// pool: capacity × overcommit minus the plans of the VMs placed there that
// are not deleted (leaving out exceptVMID). Disks are not overcommitted:
// they count at full size against the pool's capacity.
func roomOn(tx *gorm.DB, h *placementHost, pool, exceptVMID string) (hostRoom, bool, error) {
	var poolCap uint64
	found := false
	for _, p := range h.PoolList() {
		if p.Name == pool && p.Active {
			poolCap, found = p.CapacityBytes, true
		}
	}
	if !found {
		return hostRoom{}, false, nil
	}
	var vcpus, mem, disk int64
	q := tx.Table("vms AS v").Joins("JOIN plans p ON p.id = v.plan_id").Joins("JOIN images i ON i.id = v.image_id").
		Where("v.host_id = ? AND v.state <> ?", h.ID, VMDeleted)
	if exceptVMID != "" {
		q = q.Where("v.id <> ?", exceptVMID)
	}
	err := q.Select(`COALESCE(SUM(p.vcpus), 0), COALESCE(SUM(p.memory_mib), 0),
		COALESCE(SUM(CASE WHEN i.pool = ? THEN p.disk_gib ELSE 0 END), 0)`, pool).Row().Scan(&vcpus, &mem, &disk)
	if err != nil {
		return hostRoom{}, false, fmt.Errorf("sum vms on host %s: %w", h.ID, err)
	}
	return hostRoom{
		VCPUs:     h.CPUs*int64(h.CPUOvercommitPercent)/100 - vcpus,
		MemoryMiB: h.MemoryBytes/mib*int64(h.MemoryOvercommitPercent)/100 - mem,
		DiskGiB:   int64(poolCap/gib) - disk,
	}, true, nil
}

// lockHosts loads hosts by id, locked, in id order so that concurrent
// placements lock in the same order and cannot deadlock.
func lockHosts(tx *gorm.DB, ids []string) ([]placementHost, error) {
	var out []placementHost
	if len(ids) == 0 {
		return nil, nil
	}
	if err := kit.ForUpdate(tx).Table("hosts").Where("id IN ?", ids).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("lock hosts: %w", err)
	}
	return out, nil
}

// candidate is a host that can take a VM, with the copy of its image there.
type candidate struct {
	host  placementHost
	image Image
	room  hostRoom
}

// placeTx lists the hosts that can take a VM of size made from image,
// best first: reachable compute hosts with a ready copy of the image (a
// ready image of the same name) and room after overcommit. The hosts are
// locked until the transaction ends, so concurrent creates cannot both
// take the last room.
func placeTx(tx *gorm.DB, image *Image, size rulebook.Entitlement) ([]candidate, error) {
	var copies []Image
	if err := tx.Table("images").Joins("JOIN hosts h ON h.id = images.host_id").
		Where("LOWER(images.name) = LOWER(?) AND images.status = ? AND images.kind = ? AND images.retired_at IS NULL", image.Name, ImageReady, ImageDisk).
		Where("h.reachable = ? AND h.role = ?", true, HostRoleCompute).
		Select("images.*").Find(&copies).Error; err != nil {
		return nil, fmt.Errorf("find copies of image %s: %w", image.Name, err)
	}
	if len(copies) == 0 {
		return nil, noHost(models.Msgf("No host with this image is reachable right now; please try again later."))
	}
	byHost := map[string]Image{}
	ids := make([]string, 0, len(copies))
	for _, c := range copies {
		byHost[c.HostID] = c
		ids = append(ids, c.HostID)
	}
	hosts, err := lockHosts(tx, ids)
	if err != nil {
		return nil, err
	}
	var out []candidate
	var most hostRoom // the most any host has free, per resource
	for _, h := range hosts {
		img := byHost[h.ID]
		room, ok, err := roomOn(tx, &h, img.Pool, "")
		if err != nil {
			return nil, err
		}
		if ok && room.fits(size) {
			out = append(out, candidate{host: h, image: img, room: room})
		}
		if ok {
			most = hostRoom{VCPUs: max(most.VCPUs, room.VCPUs), MemoryMiB: max(most.MemoryMiB, room.MemoryMiB), DiskGiB: max(most.DiskGiB, room.DiskGiB)}
		}
	}
	if len(out) == 0 {
		return nil, noHost(models.Msgf("No host has room for this plan right now: it needs %d vCPU(s), %d MiB of memory and %d GiB of disk; "+
			"the most any host has free is %d vCPU(s), %d MiB and %d GiB. Choose a smaller plan or ask the administrators.",
			size.VCPUs, size.MemoryMiB, size.DiskGiB, max(most.VCPUs, 0), max(most.MemoryMiB, 0), max(most.DiskGiB, 0)))
	}
	// Spread the load: the host with the most memory left goes first.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].room.MemoryMiB != out[j].room.MemoryMiB {
			return out[i].room.MemoryMiB > out[j].room.MemoryMiB
		}
		return out[i].host.Name < out[j].host.Name
	})
	return out, nil
}

// noHost is the answer when no host can take a VM: an expected state of
// the commons, not a fault, so the client gets the reason (code
// "no_capacity" in the API).
func noHost(m models.Msg) *models.Error {
	return models.UnavailableMsg("no_capacity", m, "plan_id")
}

// checkRoomForResize refuses a resize the VM's host has no room for.
func checkRoomForResize(tx *gorm.DB, vm *VM, pool string, size rulebook.Entitlement) error {
	hosts, err := lockHosts(tx, []string{vm.HostID})
	if err != nil {
		return err
	}
	if len(hosts) == 0 {
		return fmt.Errorf("host %s of vm %s is gone", vm.HostID, vm.ID)
	}
	room, ok, err := roomOn(tx, &hosts[0], pool, vm.ID)
	if err != nil {
		return err
	}
	if !ok || !room.fits(size) {
		return noHost(models.Msgf("The host of this virtual machine has no room for this plan right now."))
	}
	return nil
}
