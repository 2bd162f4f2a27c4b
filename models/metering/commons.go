package metering

import (
	"context"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/rulebook"
)

// Commons is the members' view of the cooperative's machines and money:
// capacity, the cooperative in numbers, running costs and how far the
// members' contributions cover them. Nothing in it names a member.
type Commons struct {
	db      *models.DB
	clock   models.Clock
	metrics *Metrics
}

// NewCommons wires the service; prices are read from the rules inside its
// own transactions (rulebook.RulesAt), so it needs no rules service.
func NewCommons(db *models.DB, metrics *Metrics, clock models.Clock) *Commons {
	return &Commons{db: db, clock: clock, metrics: metrics}
}

// Resource is one kind of capacity: what the hardware has, what is
// promised to VMs (their plans), and what is really in use.
type Resource struct {
	Physical  float64 `json:"physical"`
	Allocated float64 `json:"allocated"`
	Used      float64 `json:"used"`
	// Used is unknown until the host has been measured.
	Measured bool `json:"measured"`
}

// Percent of physical, for bars (may pass 100 when overcommitted).
func (r Resource) Percent(v float64) float64 {
	if r.Physical <= 0 {
		return 0
	}
	return v / r.Physical * 100
}

func (r *Resource) add(o Resource) {
	r.Physical += o.Physical
	r.Allocated += o.Allocated
	r.Used += o.Used
	r.Measured = r.Measured || o.Measured
}

// HostView is one host's line on /commons.
type HostView struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Reachable bool     `json:"reachable"`
	VMs       int      `json:"vms"`
	CPU       Resource `json:"cpu"`       // cores (allocated: vCPUs)
	MemoryGB  Resource `json:"memory_gb"` // GB
	DiskGB    Resource `json:"disk_gb"`   // GB (allocated: plans' disks)
	// room is what placement may still promise, for "how many more fit".
	room compute.Room
}

// PlanFit says how many more VMs of a plan fit on the hosts now.
type PlanFit struct {
	Plan      string `json:"plan"`
	VCPUs     int    `json:"vcpus"`
	MemoryMiB int    `json:"memory_mib"`
	DiskGiB   int    `json:"disk_gib"`
	Running   int    `json:"vms"` // VMs of this plan that are not deleted
	Fit       int    `json:"fit"`
}

// Capacity is the machines' part of /commons.
type Capacity struct {
	Hosts []HostView `json:"hosts"`
	Total HostView   `json:"total"`
	Plans []PlanFit  `json:"plans"`
}

// Capacity reads hosts, plans and VMs from the database and the hosts'
// latest measurements; it never asks libvirt.
func (c *Commons) Capacity(ctx context.Context) (*Capacity, error) {
	db := c.db.Read.WithContext(ctx)
	rooms, err := compute.Rooms(db)
	if err != nil {
		return nil, err
	}
	latest, err := c.metrics.HostsNow(ctx, c.clock.Now(), 10*time.Minute)
	if err != nil {
		return nil, err
	}
	out := &Capacity{Total: HostView{Name: "total", Reachable: true}, Hosts: []HostView{}, Plans: []PlanFit{}}
	for _, r := range rooms {
		h := HostView{ID: r.HostID, Name: r.HostName, Reachable: r.Reachable, VMs: r.VMs, room: r,
			CPU:      Resource{Physical: float64(r.CPUs), Allocated: float64(r.AllocVCPUs)},
			MemoryGB: Resource{Physical: float64(r.MemoryBytes) / 1e9, Allocated: float64(r.AllocMemoryMiB) * mib / 1e9},
			DiskGB:   Resource{Physical: float64(r.DiskBytes) / 1e9, Allocated: float64(r.AllocDiskGiB) * (1 << 30) / 1e9},
		}
		if s, ok := latest[r.HostID]; ok {
			h.CPU.Used, h.CPU.Measured = float64(s.CPU)/1000, true
			h.MemoryGB.Used, h.MemoryGB.Measured = float64(s.Mem)/1e9, true
			h.DiskGB.Used, h.DiskGB.Measured = float64(s.Disk)/1e9, true
		}
		out.Total.VMs += h.VMs
		out.Total.CPU.add(h.CPU)
		out.Total.MemoryGB.add(h.MemoryGB)
		out.Total.DiskGB.add(h.DiskGB)
		out.Hosts = append(out.Hosts, h)
	}
	plans, err := planCounts(db)
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		if p.retired {
			continue
		}
		for _, h := range out.Hosts {
			if h.Reachable {
				p.Fit += h.room.Fits(rulebook.Entitlement{VCPUs: p.VCPUs, MemoryMiB: p.MemoryMiB, DiskGiB: p.DiskGiB})
			}
		}
		out.Plans = append(out.Plans, p.PlanFit)
	}
	return out, nil
}

type planCount struct {
	PlanFit
	retired bool
}

func planCounts(db *gorm.DB) ([]planCount, error) {
	var rows []struct {
		Name      string
		VCPUs     int `gorm:"column:vcpus"`
		MemoryMiB int `gorm:"column:memory_mib"`
		DiskGiB   int `gorm:"column:disk_gib"`
		Retired   bool
		N         int
	}
	err := db.Raw(`SELECT p.name, p.vcpus, p.memory_mib, p.disk_gib, p.retired_at IS NOT NULL AS retired,
		(SELECT COUNT(*) FROM vms v WHERE v.plan_id = p.id AND v.state <> 'deleted') AS n
		FROM plans p ORDER BY p.vcpus, p.memory_mib, p.name`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count VMs by plan: %w", err)
	}
	out := make([]planCount, 0, len(rows))
	for _, r := range rows {
		if r.Retired && r.N == 0 {
			continue
		}
		out = append(out, planCount{PlanFit: PlanFit{Plan: r.Name, VCPUs: r.VCPUs, MemoryMiB: r.MemoryMiB, DiskGiB: r.DiskGiB, Running: r.N}, retired: r.Retired})
	}
	return out, nil
}

// Cooperative is the cooperative in numbers.
type Cooperative struct {
	Members      int              `json:"members"`
	Shares       int64            `json:"shares"`
	CapitalCents int64            `json:"capital_cents"`
	VMsByPlan    []PlanFit        `json:"vms_by_plan"`
	LastAssembly *AssemblyTurnout `json:"last_assembly,omitempty"`
}

// AssemblyTurnout is how many of those entitled took part in the last
// closed general assembly.
type AssemblyTurnout struct {
	Title      string    `json:"title"`
	ClosedAt   time.Time `json:"closed_at"`
	Electorate int       `json:"electorate"`
	Voted      int       `json:"voted"`
}

// Percent is the turnout.
func (a *AssemblyTurnout) Percent() float64 {
	if a.Electorate == 0 {
		return 0
	}
	return float64(a.Voted) / float64(a.Electorate) * 100
}

// Cooperative counts members, shares and capital from the ledgers, VMs by
// plan, and the last assembly's turnout.
func (c *Commons) Cooperative(ctx context.Context) (*Cooperative, error) {
	db := c.db.Read.WithContext(ctx)
	out := &Cooperative{VMsByPlan: []PlanFit{}}
	today := c.clock.Now().UTC()
	err := db.Raw(`SELECT
		(SELECT COUNT(*) FROM memberships WHERE status IN ('member', 'leaving')),
		(SELECT COALESCE(SUM(shares), 0) FROM share_transactions WHERE effective_date <= ?),
		(SELECT COALESCE(SUM(amount_cents), 0) FROM capital_transactions WHERE effective_date <= ?)`, today, today).
		Row().Scan(&out.Members, &out.Shares, &out.CapitalCents)
	if err != nil {
		return nil, fmt.Errorf("count the cooperative: %w", err)
	}
	plans, err := planCounts(db)
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		out.VMsByPlan = append(out.VMsByPlan, p.PlanFit)
	}
	sort.SliceStable(out.VMsByPlan, func(i, j int) bool { return out.VMsByPlan[i].Running > out.VMsByPlan[j].Running })
	var a []struct {
		ID       string
		Title    string
		ClosedAt time.Time
	}
	if err := db.Raw(`SELECT id, title, closed_at FROM assemblies WHERE status = 'closed' AND closed_at IS NOT NULL
		ORDER BY closed_at DESC LIMIT 1`).Scan(&a).Error; err != nil {
		return nil, fmt.Errorf("last assembly: %w", err)
	}
	if len(a) == 1 {
		t := &AssemblyTurnout{Title: a[0].Title, ClosedAt: a[0].ClosedAt}
		err := db.Raw(`SELECT (SELECT COUNT(*) FROM electorate WHERE assembly_id = ?),
			(SELECT COUNT(DISTINCT vr.member_id) FROM vote_records vr JOIN agenda_items ai ON ai.id = vr.item_id WHERE ai.assembly_id = ?)`,
			a[0].ID, a[0].ID).Row().Scan(&t.Electorate, &t.Voted)
		if err != nil {
			return nil, fmt.Errorf("turnout: %w", err)
		}
		out.LastAssembly = t
	}
	return out, nil
}
