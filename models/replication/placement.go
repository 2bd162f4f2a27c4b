package replication

import (
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"fmt"
	"sort"

	"github.com/riverqueue/river"
	"gorm.io/gorm"
)

// load is an amount of VM resources.
type load struct{ VCPUs, MemoryMiB, DiskGiB int64 }

func (a load) plus(b load) load {
	return load{a.VCPUs + b.VCPUs, a.MemoryMiB + b.MemoryMiB, a.DiskGiB + b.DiskGiB}
}

func (a load) minus(b load) load {
	return load{a.VCPUs - b.VCPUs, a.MemoryMiB - b.MemoryMiB, a.DiskGiB - b.DiskGiB}
}

func sizeLoad(e rulebook.Entitlement) load {
	return load{int64(e.VCPUs), int64(e.MemoryMiB), int64(e.DiskGiB)}
}

// clusterHost is a host as replication sees it: what it may carry after
// overcommit and what its own VMs take.
type clusterHost struct {
	ID, Name  string
	VCPUs     int64 // capacity after overcommit
	MemoryMiB int64
	PoolGiB   map[string]int64 // active pools' capacity
	Own       load             // its own VMs (not deleted)
	Held      load             // the replicas it holds (disk counts)
}

// free is what the host could still run: its capacity less its own VMs.
func (h *clusterHost) free() load {
	return load{h.VCPUs - h.Own.VCPUs, h.MemoryMiB - h.Own.MemoryMiB, 0}
}

// diskFree is what pool could still store: disks are not overcommitted
// and a replica takes its full size like the VM's own disk.
func (h *clusterHost) diskFree(pool string) int64 {
	return h.PoolGiB[pool] - h.Own.DiskGiB - h.Held.DiskGiB
}

// cluster is the hosts that can run VMs and how the VMs' replicas pair
// them, read in one transaction.
type cluster struct {
	hosts map[string]*clusterHost
	// pairs[primary][replica] is what the replica host would have to take
	// over if the primary failed.
	pairs map[string]map[string]load
}

type hostRow struct {
	compute.Host
	compute.HostVMSettings
}

// loadCluster reads the reachable compute hosts, their own VMs and the
// replicas between them. One host failure at a time is the N+1 promise:
// a host must be able to take over each partner's VMs, not all at once.
func loadCluster(tx *gorm.DB) (*cluster, error) {
	var hosts []hostRow
	if err := tx.Table("hosts").Where("reachable = ? AND role = ?", true, compute.HostRoleCompute).
		Order("name").Find(&hosts).Error; err != nil {
		return nil, fmt.Errorf("load hosts: %w", err)
	}
	c := &cluster{hosts: map[string]*clusterHost{}, pairs: map[string]map[string]load{}}
	for _, h := range hosts {
		ch := &clusterHost{ID: h.ID, Name: h.Name, PoolGiB: map[string]int64{},
			VCPUs:     h.CPUs * int64(h.CPUOvercommitPercent) / 100,
			MemoryMiB: h.MemoryBytes / (1 << 20) * int64(h.MemoryOvercommitPercent) / 100}
		for _, p := range h.PoolList() {
			if p.Active {
				ch.PoolGiB[p.Name] = int64(p.CapacityBytes >> 30)
			}
		}
		c.hosts[h.ID] = ch
	}
	type sumRow struct {
		HostID, ReplicaHostID string
		VCPUs                 int64 `gorm:"column:vcpus"`
		MemoryMiB             int64 `gorm:"column:memory_mib"`
		DiskGiB               int64 `gorm:"column:disk_gib"`
	}
	var own []sumRow
	if err := tx.Table("vms AS v").Joins("JOIN plans p ON p.id = v.plan_id").Where("v.state <> ?", compute.VMDeleted).
		Group("v.host_id").Select(`v.host_id, SUM(p.vcpus) AS vcpus, SUM(p.memory_mib) AS memory_mib, SUM(p.disk_gib) AS disk_gib`).
		Scan(&own).Error; err != nil {
		return nil, fmt.Errorf("sum vms per host: %w", err)
	}
	for _, s := range own {
		if h := c.hosts[s.HostID]; h != nil {
			h.Own = load{s.VCPUs, s.MemoryMiB, s.DiskGiB}
		}
	}
	var pairs []sumRow
	if err := tx.Table("vm_replicas AS r").Joins("JOIN vms v ON v.id = r.vm_id").Joins("JOIN plans p ON p.id = v.plan_id").
		Where("v.state <> ? AND r.replica_host_id <> v.host_id", compute.VMDeleted).Group("v.host_id, r.replica_host_id").
		Select(`v.host_id, r.replica_host_id, SUM(p.vcpus) AS vcpus, SUM(p.memory_mib) AS memory_mib, SUM(p.disk_gib) AS disk_gib`).
		Scan(&pairs).Error; err != nil {
		return nil, fmt.Errorf("sum replicas per host: %w", err)
	}
	for _, s := range pairs {
		if c.pairs[s.HostID] == nil {
			c.pairs[s.HostID] = map[string]load{}
		}
		l := load{s.VCPUs, s.MemoryMiB, s.DiskGiB}
		c.pairs[s.HostID][s.ReplicaHostID] = l
		if h := c.hosts[s.ReplicaHostID]; h != nil {
			h.Held = h.Held.plus(l)
		}
	}
	return c, nil
}

// pickReplica chooses the standby for a VM of size extra on primary: a
// host other than primary (and than except) that could take over all of
// primary's VMs it stands in for plus this one, and store its disk in
// pool. Most memory left afterwards wins.
func (c *cluster) pickReplica(primary, pool string, extra load, except string) (*clusterHost, bool) {
	var best *clusterHost
	var bestLeft int64
	for _, h := range c.hosts {
		if h.ID == primary || h.ID == except || !c.canStandIn(h, primary, pool, extra) {
			continue
		}
		left := h.free().MemoryMiB - c.pairs[primary][h.ID].MemoryMiB - extra.MemoryMiB
		if best == nil || left > bestLeft || (left == bestLeft && h.Name < best.Name) {
			best, bestLeft = h, left
		}
	}
	return best, best != nil
}

// canStandIn reports whether h could take over primary's VMs it holds
// replicas of plus extra, and store extra's disk in pool.
func (c *cluster) canStandIn(h *clusterHost, primary, pool string, extra load) bool {
	need := c.pairs[primary][h.ID].plus(extra)
	free := h.free()
	return need.VCPUs <= free.VCPUs && need.MemoryMiB <= free.MemoryMiB && extra.DiskGiB <= h.diskFree(pool)
}

// Admit is compute's PlacementGuard: host may take a VM of size only if
// another host could take it over (and everything else host runs that it
// stands in for), and if host itself could still take over each partner
// whose replicas it holds. With a single host there is nothing to
// replicate to, and placement looks at the host alone.
func (r *Replicas) Admit(tx *gorm.DB, hostID, pool string, size rulebook.Entitlement) (string, error) {
	c, err := loadCluster(tx)
	if err != nil {
		return "", err
	}
	h := c.hosts[hostID]
	if len(c.hosts) < 2 || h == nil {
		return "", nil
	}
	extra := sizeLoad(size)
	if _, ok := c.pickReplica(hostID, pool, extra, ""); !ok {
		return "No other host could take this virtual machine over if its host failed; choose a smaller plan or ask the administrators.", nil
	}
	for primary, byReplica := range c.pairs {
		need, ok := byReplica[hostID]
		if !ok || primary == hostID {
			continue
		}
		free := h.free()
		if need.VCPUs+extra.VCPUs > free.VCPUs || need.MemoryMiB+extra.MemoryMiB > free.MemoryMiB {
			return "The hosts with room for this plan must keep room to take over each other's virtual machines; choose a smaller plan or ask the administrators.", nil
		}
	}
	return "", nil
}

// AdmitResize is compute's PlacementGuard for a VM that changes its plan
// where it is: N+1 must hold after the change as it did for placing. The
// VM's standby must still be able to take over everything of the VM's
// host it stands in for (the VM now bigger) and store the bigger disk, and
// the VM's host must keep room to take over each partner whose replicas
// it holds. Shrinking never fails here.
func (r *Replicas) AdmitResize(tx *gorm.DB, vm *compute.VM, pool string, from, to rulebook.Entitlement) (models.Msg, error) {
	c, err := loadCluster(tx)
	if err != nil {
		return models.Msg{}, err
	}
	h := c.hosts[vm.HostID]
	if len(c.hosts) < 2 || h == nil {
		return models.Msg{}, nil
	}
	grow := sizeLoad(to).minus(sizeLoad(from))
	var rep Replica
	if err := tx.Where("vm_id = ?", vm.ID).Limit(1).Find(&rep).Error; err != nil {
		return models.Msg{}, fmt.Errorf("load replica of vm %s: %w", vm.ID, err)
	}
	if standby := c.hosts[rep.ReplicaHostID]; rep.VMID != "" && standby != nil && standby.ID != vm.HostID {
		need := c.pairs[vm.HostID][standby.ID].plus(grow)
		free := standby.free()
		if need.VCPUs > free.VCPUs || need.MemoryMiB > free.MemoryMiB || grow.DiskGiB > standby.diskFree(pool) {
			return models.Msgf("Host %s, the standby of this virtual machine, could not take it over with this plan if its host failed; choose a smaller plan or ask the administrators.", standby.Name), nil
		}
	}
	free := h.free()
	for primary, byReplica := range c.pairs {
		need, ok := byReplica[h.ID]
		if !ok || primary == h.ID {
			continue
		}
		if need.VCPUs+grow.VCPUs > free.VCPUs || need.MemoryMiB+grow.MemoryMiB > free.MemoryMiB {
			return models.Msgf("This host must keep room to take over its partner's virtual machines; choose a smaller plan or ask the administrators."), nil
		}
	}
	return models.Msg{}, nil
}

// Placed is compute's PlacementGuard hook after the VM row exists: it
// gives the VM its replica host in the same transaction. Without a second
// host the VM stays unreplicated until AssignMissing finds one.
func (r *Replicas) Placed(tx *gorm.DB, vm *compute.VM, size rulebook.Entitlement) error {
	c, err := loadCluster(tx)
	if err != nil {
		return err
	}
	pool, err := imagePool(tx, vm.ImageID)
	if err != nil {
		return err
	}
	h, ok := c.pickReplica(vm.HostID, pool, sizeLoad(size), "")
	if !ok {
		return nil
	}
	return r.assignTx(tx, vm.ID, h.ID)
}

func imagePool(tx *gorm.DB, imageID string) (string, error) {
	var img compute.Image
	if err := kit.First(tx, &img, imageID, "image"); err != nil {
		return "", err
	}
	return img.Pool, nil
}

// assignTx makes hostID the VM's replica host, starting over: the copy on
// another host (if any) no longer counts, and the next run is a full one,
// due now.
func (r *Replicas) assignTx(tx *gorm.DB, vmID, hostID string) error {
	now := r.now()
	res := tx.Model(&Replica{}).Where("vm_id = ?", vmID).Updates(map[string]any{
		"replica_host_id": hostID, "state": StateNone, "last_good_at": nil, "last_good_checkpoint": "",
		"last_error": "", "consecutive_failures": 0, "next_run_at": now, "bytes_last": 0,
		"lagging_since": nil, "created_at": now, "updated_at": now,
	})
	if res.Error != nil {
		return fmt.Errorf("assign replica of vm %s: %w", vmID, res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	rep := Replica{VMID: vmID, ReplicaHostID: hostID, State: StateNone, NextRunAt: now, CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(&rep).Error; err != nil {
		return fmt.Errorf("insert replica of vm %s: %w", vmID, err)
	}
	return nil
}

// AssignMissing gives a replica host to every VM that has none (placed
// while there was a single host) or whose replica host became its primary
// (after a migration), where N+1 allows. It returns how many it assigned.
func (r *Replicas) AssignMissing(ctx context.Context) (int, error) {
	n := 0
	err := r.db.Tx(ctx, func(tx *gorm.DB) error {
		type row struct {
			ID, HostID, ImageID string
			VCPUs               int `gorm:"column:vcpus"`
			MemoryMiB           int `gorm:"column:memory_mib"`
			DiskGiB             int `gorm:"column:disk_gib"`
		}
		var rows []row
		if err := tx.Table("vms AS v").Joins("JOIN plans p ON p.id = v.plan_id").
			Joins("LEFT JOIN vm_replicas r ON r.vm_id = v.id").
			Where("v.state NOT IN ?", []compute.VMState{compute.VMDeleted, compute.VMDeleting}).
			Where("r.vm_id IS NULL OR r.replica_host_id = v.host_id").
			Select("v.id, v.host_id, v.image_id, p.vcpus, p.memory_mib, p.disk_gib").Order("v.id").Scan(&rows).Error; err != nil {
			return fmt.Errorf("find vms without replica: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		c, err := loadCluster(tx)
		if err != nil || len(c.hosts) < 2 {
			return err
		}
		for _, v := range rows {
			pool, err := imagePool(tx, v.ImageID)
			if err != nil {
				return err
			}
			size := load{int64(v.VCPUs), int64(v.MemoryMiB), int64(v.DiskGiB)}
			h, ok := c.pickReplica(v.HostID, pool, size, "")
			if !ok {
				continue // shown as "not replicated" and in the N+1 table
			}
			if err := r.assignTx(tx, v.ID, h.ID); err != nil {
				return err
			}
			if c.pairs[v.HostID] == nil {
				c.pairs[v.HostID] = map[string]load{}
			}
			c.pairs[v.HostID][h.ID] = c.pairs[v.HostID][h.ID].plus(size)
			h.Held = h.Held.plus(size)
			if err := kit.RecordAudit(tx, models.SystemActor("replication.schedule"), "replication.assign", "vm", v.ID,
				map[string]any{"replica_host_id": h.ID, "replica_host": h.Name}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// SetReplicaHost lets an admin choose a VM's replica host: another
// reachable compute host that exists and could take the VM over.
func (r *Replicas) SetReplicaHost(ctx context.Context, actor models.Actor, v models.Viewer, vmID, hostID string) error {
	if err := kit.RequireAdmin(v); err != nil {
		return err
	}
	if hostID == "" {
		return models.Invalid(map[string]string{"replica_host_id": "Choose a host."})
	}
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		var vm compute.VM
		if err := kit.First(kit.ForUpdate(tx), &vm, vmID, "virtual machine"); err != nil {
			return err
		}
		if vm.State == compute.VMDeleted {
			return models.Conflict("This virtual machine has been deleted.")
		}
		var host compute.Host
		if err := tx.Where("id = ?", hostID).Limit(1).Find(&host).Error; err != nil {
			return fmt.Errorf("load host %s: %w", hostID, err)
		}
		switch {
		case host.ID == "":
			return models.Invalid(map[string]string{"replica_host_id": "Choose one of the registered hosts."})
		case host.ID == vm.HostID:
			return models.Invalid(map[string]string{"replica_host_id": "Choose a host other than the one the machine runs on."})
		}
		c, err := loadCluster(tx)
		if err != nil {
			return err
		}
		ch := c.hosts[host.ID]
		if ch == nil {
			return models.Invalid(map[string]string{"replica_host_id": "This host is not reachable or does not run virtual machines."})
		}
		var cur Replica
		if err := tx.Where("vm_id = ?", vmID).Limit(1).Find(&cur).Error; err != nil {
			return fmt.Errorf("load replica of vm %s: %w", vmID, err)
		}
		if cur.ReplicaHostID == host.ID {
			return nil
		}
		var plan compute.Plan
		if err := kit.First(tx, &plan, vm.PlanID, "plan"); err != nil {
			return err
		}
		pool, err := imagePool(tx, vm.ImageID)
		if err != nil {
			return err
		}
		size := sizeLoad(plan.Size())
		if cur.ReplicaHostID != "" { // the VM moves away from its current standby
			if byR := c.pairs[vm.HostID]; byR != nil {
				l := byR[cur.ReplicaHostID]
				byR[cur.ReplicaHostID] = load{l.VCPUs - size.VCPUs, l.MemoryMiB - size.MemoryMiB, l.DiskGiB - size.DiskGiB}
			}
		}
		if !c.canStandIn(ch, vm.HostID, pool, size) {
			return models.Invalid(map[string]string{"replica_host_id": "This host could not take the machine over together with the others it stands in for."})
		}
		if err := r.assignTx(tx, vmID, host.ID); err != nil {
			return err
		}
		// The old copy goes, and with it the checkpoint it was based on:
		// the next run is a full copy to the new host.
		if cur.ReplicaHostID != "" {
			if _, err := kit.Enqueue(ctx, r.queue, tx, jobargs.ReplicaRemove{VMID: vmID, HostID: cur.ReplicaHostID,
				Checkpoint: cur.LastGoodCheckpoint}, &river.InsertOpts{MaxAttempts: 10}); err != nil {
				return err
			}
		}
		return kit.RecordAudit(tx, actor, "replication.set_host", "vm", vmID,
			map[string]any{"from": cur.ReplicaHostID, "to": host.ID, "host": host.Name})
	})
}

// PartnerCapacity is one standby of a host: what it would take over if
// the host failed, and what it has free.
type PartnerCapacity struct {
	HostID, HostName   string
	VMs                int
	VCPUs, MemoryMiB   int64 // to take over
	FreeVCPUs, FreeMiB int64 // the partner's room after overcommit
	CanAbsorb          bool
}

// HostCapacity is one host's line in the N+1 table.
type HostCapacity struct {
	HostID, HostName string
	VMs              int
	VCPUs, MemoryMiB int64 // of its own VMs
	Unreplicated     int   // VMs without a standby
	Partners         []PartnerCapacity
	// CanAbsorb: if this host failed, its standbys could start all its VMs.
	CanAbsorb bool
}

// Capacity is the admins' N+1 table: per reachable compute host, whether
// the hosts standing in for it could take over all its VMs.
func (r *Replicas) Capacity(ctx context.Context, v models.Viewer) ([]HostCapacity, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	db := r.db.Gorm.WithContext(ctx)
	c, err := loadCluster(db)
	if err != nil {
		return nil, err
	}
	type countRow struct {
		HostID        string
		ReplicaHostID *string
		N             int
	}
	var counts []countRow
	if err := db.Table("vms AS v").Joins("LEFT JOIN vm_replicas r ON r.vm_id = v.id AND r.replica_host_id <> v.host_id").
		Where("v.state <> ?", compute.VMDeleted).Group("v.host_id, r.replica_host_id").
		Select("v.host_id, r.replica_host_id, COUNT(*) AS n").Scan(&counts).Error; err != nil {
		return nil, fmt.Errorf("count vms per host: %w", err)
	}
	byPair := map[[2]string]int{}
	for _, n := range counts {
		byPair[[2]string{n.HostID, deref(n.ReplicaHostID)}] = n.N
	}
	var out []HostCapacity
	for _, h := range c.hosts {
		hc := HostCapacity{HostID: h.ID, HostName: h.Name, VCPUs: h.Own.VCPUs, MemoryMiB: h.Own.MemoryMiB,
			Unreplicated: byPair[[2]string{h.ID, ""}], CanAbsorb: true}
		hc.VMs = hc.Unreplicated
		for pid, need := range c.pairs[h.ID] {
			p := PartnerCapacity{HostID: pid, HostName: pid, VMs: byPair[[2]string{h.ID, pid}], VCPUs: need.VCPUs, MemoryMiB: need.MemoryMiB}
			if ph := c.hosts[pid]; ph != nil {
				free := ph.free()
				p.HostName, p.FreeVCPUs, p.FreeMiB = ph.Name, free.VCPUs, free.MemoryMiB
				p.CanAbsorb = need.VCPUs <= free.VCPUs && need.MemoryMiB <= free.MemoryMiB
			}
			hc.VMs += p.VMs
			hc.CanAbsorb = hc.CanAbsorb && p.CanAbsorb
			hc.Partners = append(hc.Partners, p)
		}
		if hc.Unreplicated > 0 {
			hc.CanAbsorb = false
		}
		sort.Slice(hc.Partners, func(i, j int) bool { return hc.Partners[i].HostName < hc.Partners[j].HostName })
		out = append(out, hc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].HostName < out[j].HostName })
	return out, nil
}

// Hosts lists the hosts an admin may choose as a replica host.
func (r *Replicas) Hosts(ctx context.Context) ([]compute.Host, error) {
	var out []compute.Host
	if err := r.db.Gorm.WithContext(ctx).Where("role = ?", compute.HostRoleCompute).Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return out, nil
}
