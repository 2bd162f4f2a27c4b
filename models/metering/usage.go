package metering

import (
	"context"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/rulebook"
)

// Usage is what one member used in a month, from what really ran.
type Usage struct {
	OwnerID string
	Plans   []PlanUsage // by plan name
	// DiskGiBSeconds is the plans' disk sizes × the time the disks existed.
	DiskGiBSeconds int64
	TrafficBytes   int64
}

// PlanUsage is the time a member's VMs of one plan ran.
type PlanUsage struct {
	PlanID, PlanName string
	VCPUs, MemoryMiB int
	DiskGiB          int
	RunSeconds       int64
}

// ranStates are the states in which the guest runs: VM-hours count them.
// Starting and provisioning are the portal's work before the guest runs;
// a stopped, missing or failed VM runs nothing.
var ranStates = map[string]bool{"running": true, "stopping": true, "rebooting": true}

// Month is a calendar month in UTC, "2026-11".
type Month struct{ Start time.Time }

// ParseMonth reads "YYYY-MM".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return Month{}, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	return Month{Start: t.UTC()}, nil
}

// MonthOf is the month containing t.
func MonthOf(t time.Time) Month {
	t = t.UTC()
	return Month{Start: time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)}
}

func (m Month) End() time.Time            { return m.Start.AddDate(0, 1, 0) }
func (m Month) String() string            { return m.Start.Format("2006-01") }
func (m Month) Prev() Month               { return Month{Start: m.Start.AddDate(0, -1, 0)} }
func (m Month) Seconds() int64            { return int64(m.End().Sub(m.Start) / time.Second) }
func (m Month) Label() string             { return m.Start.Format("January 2006") }
func (m Month) Contains(t time.Time) bool { return !t.Before(m.Start) && t.Before(m.End()) }

// usageOf computes every member's usage in month m from the VMs' state
// history: each stretch between two changes counts, clipped to the month,
// with the plan and owner of its start. A resize shows as a change of plan,
// a deletion as the state "deleted", after which nothing counts.
//
// until cuts the month short (the current month so far); a zero until is
// the whole month.
// owner, if set, limits it to one member's VMs.
func usageOf(db *gorm.DB, m Month, until time.Time, owner string) (map[string]*Usage, error) {
	start, end := m.Start, m.End()
	if !until.IsZero() && until.Before(end) {
		end = until
	}
	var rows []struct {
		VMID, OwnerID, PlanID, State string
		At                           time.Time
		PlanName                     string
		VCPUs                        int `gorm:"column:vcpus"`
		MemoryMiB                    int `gorm:"column:memory_mib"`
		DiskGiB                      int `gorm:"column:disk_gib"`
	}
	// The VMs alive at some point of the month: not deleted before it.
	err := db.Raw(`SELECT h.vm_id, h.owner_id, h.plan_id, h.state, h.at, p.name AS plan_name, p.vcpus, p.memory_mib, p.disk_gib
		FROM vm_state_history h JOIN vms v ON v.id = h.vm_id JOIN plans p ON p.id = h.plan_id
		WHERE h.at < ? AND (v.deleted_at IS NULL OR v.deleted_at >= ?) AND (? = '' OR v.owner_id = ?)
		ORDER BY h.vm_id, h.at, h.id`, end, start, owner, owner).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read VM state history: %w", err)
	}
	out := map[string]*Usage{}
	type planKey struct{ owner, plan string }
	plans := map[planKey]*PlanUsage{}
	for i, r := range rows {
		from := r.At.UTC()
		to := end
		if i+1 < len(rows) && rows[i+1].VMID == r.VMID {
			to = rows[i+1].At.UTC()
		}
		if from.Before(start) {
			from = start
		}
		if to.After(end) {
			to = end
		}
		if !to.After(from) || r.State == "deleted" {
			continue
		}
		secs := int64(to.Sub(from) / time.Second)
		u := out[r.OwnerID]
		if u == nil {
			u = &Usage{OwnerID: r.OwnerID}
			out[r.OwnerID] = u
		}
		u.DiskGiBSeconds += int64(r.DiskGiB) * secs
		if ranStates[r.State] {
			k := planKey{r.OwnerID, r.PlanID}
			p := plans[k]
			if p == nil {
				p = &PlanUsage{PlanID: r.PlanID, PlanName: r.PlanName, VCPUs: r.VCPUs, MemoryMiB: r.MemoryMiB, DiskGiB: r.DiskGiB}
				plans[k] = p
			}
			p.RunSeconds += secs
		}
	}
	for k, p := range plans {
		out[k.owner].Plans = append(out[k.owner].Plans, *p)
	}
	for _, u := range out {
		sort.Slice(u.Plans, func(i, j int) bool { return u.Plans[i].PlanName < u.Plans[j].PlanName })
	}
	// Traffic from the hourly series: each row is a mean rate over its hour.
	var traffic []struct {
		OwnerID string
		Bytes   int64
	}
	err = db.Raw(`SELECT v.owner_id, COALESCE(SUM(m.rx + m.tx), 0) * 3600 AS bytes
		FROM metric_1h m JOIN metric_series s ON s.id = m.series AND s.kind = 'vm' JOIN vms v ON v.id = s.ref_id
		WHERE m.at >= ? AND m.at < ? AND (? = '' OR v.owner_id = ?) GROUP BY v.owner_id`, start.Unix(), end.Unix(), owner, owner).Scan(&traffic).Error
	if err != nil {
		return nil, fmt.Errorf("read traffic: %w", err)
	}
	for _, t := range traffic {
		u := out[t.OwnerID]
		if u == nil {
			u = &Usage{OwnerID: t.OwnerID}
			out[t.OwnerID] = u
		}
		u.TrafficBytes += t.Bytes
	}
	return out, nil
}

// SoFar is a member's usage in the current month up to now, priced at the
// rules in force at the month's start: what the next statement will say
// if nothing changes. Only the member sees their own.
func (c *Commons) SoFar(ctx context.Context, v models.Viewer) (*Statement, error) {
	now := c.clock.Now()
	m := MonthOf(now)
	db := c.db.Gorm.WithContext(ctx)
	rules, err := rulebook.RulesAt(db, m.Start)
	if err != nil {
		return nil, err
	}
	usage, err := usageOf(db, m, now, v.UserID)
	if err != nil {
		return nil, err
	}
	st := &Statement{Month: m.String(), UserID: v.UserID}
	if u := usage[v.UserID]; u != nil {
		st.Lines = lines(u, m, rules.Prices)
		for i := range st.Lines {
			st.Lines[i].Position = i + 1
		}
	}
	return st, nil
}
