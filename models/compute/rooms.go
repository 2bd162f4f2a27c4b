package compute

import (
	"fmt"

	"gorm.io/gorm"

	"allmende/models/rulebook"
)

// Room is a compute host's capacity as placement counts it: the hardware,
// what the plans of its VMs take, and what it may still promise (after
// overcommit for vCPUs and memory; disks at full size per pool).
type Room struct {
	HostID, HostName string
	Reachable        bool // answered its last inventory read and is not fenced
	VMs              int
	CPUs             int64
	MemoryBytes      int64
	DiskBytes        int64 // capacity of its active pools
	AllocVCPUs       int64
	AllocMemoryMiB   int64
	AllocDiskGiB     int64
	FreeVCPUs        int64
	FreeMemoryMiB    int64
	FreeDiskGiB      map[string]int64 // by pool
}

// Fits is how many more VMs of size the host can take now, in the pool
// with the most room.
func (r Room) Fits(size rulebook.Entitlement) int {
	if size.VCPUs <= 0 || size.MemoryMiB <= 0 || size.DiskGiB <= 0 {
		return 0
	}
	var disk int64
	for _, free := range r.FreeDiskGiB {
		disk = max(disk, free)
	}
	n := min(r.FreeVCPUs/int64(size.VCPUs), r.FreeMemoryMiB/int64(size.MemoryMiB), disk/int64(size.DiskGiB))
	return int(max(n, 0))
}

// Rooms reads every compute host's room, for the members' view of the
// commons. It reads without locks: a view, not a placement.
func Rooms(db *gorm.DB) ([]Room, error) {
	var hosts []placementHost
	if err := db.Table("hosts").Where("role = ?", HostRoleCompute).Order("name").Find(&hosts).Error; err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	var sums []struct {
		HostID string
		Pool   string
		N      int
		VCPUs  int64 `gorm:"column:vcpus"`
		Mem    int64 `gorm:"column:mem"`
		Disk   int64 `gorm:"column:disk"`
	}
	err := db.Table("vms AS v").Joins("JOIN plans p ON p.id = v.plan_id").Joins("JOIN images i ON i.id = v.image_id").
		Where("v.state <> ?", VMDeleted).Group("v.host_id, i.pool").
		Select("v.host_id, i.pool, COUNT(*) AS n, SUM(p.vcpus) AS vcpus, SUM(p.memory_mib) AS mem, SUM(p.disk_gib) AS disk").
		Scan(&sums).Error
	if err != nil {
		return nil, fmt.Errorf("sum VMs per host: %w", err)
	}
	out := make([]Room, 0, len(hosts))
	for i := range hosts {
		h := &hosts[i]
		r := Room{HostID: h.ID, HostName: h.Name, Reachable: h.Reachable && !h.Fenced(), CPUs: h.CPUs, MemoryBytes: h.MemoryBytes,
			FreeDiskGiB: map[string]int64{}}
		used := map[string]int64{}
		for _, s := range sums {
			if s.HostID != h.ID {
				continue
			}
			r.VMs += s.N
			r.AllocVCPUs += s.VCPUs
			r.AllocMemoryMiB += s.Mem
			r.AllocDiskGiB += s.Disk
			used[s.Pool] += s.Disk
		}
		for _, p := range h.PoolList() {
			if p.Active {
				r.DiskBytes += int64(p.CapacityBytes)
				r.FreeDiskGiB[p.Name] = int64(p.CapacityBytes/gib) - used[p.Name]
			}
		}
		r.FreeVCPUs = h.CPUs*int64(h.CPUOvercommitPercent)/100 - r.AllocVCPUs
		r.FreeMemoryMiB = h.MemoryBytes/mib*int64(h.MemoryOvercommitPercent)/100 - r.AllocMemoryMiB
		out = append(out, r)
	}
	return out, nil
}
