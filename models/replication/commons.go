package replication

import (
	"context"
	"sort"
	"time"

	"allmende/models"
)

// HostHealth is one host's replication as every member may see it on
// /commons: counts and ages, never a VM's name or owner.
type HostHealth struct {
	HostID, HostName string
	VMs              int // VMs whose primary is this host
	Replicated       int
	Good, Lagging    int
	Failing, Other   int // Other: seeding or paused
	// MaxLag is the largest data-loss window among its replicated VMs;
	// OldestGood the oldest "last good copy".
	MaxLag     time.Duration
	OldestGood *time.Time
	// CanAbsorb: the hosts standing in for it could start all its VMs
	// (N+1), as the admins' capacity table computes it.
	CanAbsorb bool
}

// HostsHealth summarises replication per host for the members' view.
func (r *Replicas) HostsHealth(ctx context.Context) ([]HostHealth, error) {
	all, err := r.list(ctx, FilterAll)
	if err != nil {
		return nil, err
	}
	// Capacity is the admins' table; its N+1 verdict is not personal.
	capacity, err := r.Capacity(ctx, models.Viewer{Admin: true})
	if err != nil {
		return nil, err
	}
	by := map[string]*HostHealth{}
	for _, c := range capacity {
		by[c.HostID] = &HostHealth{HostID: c.HostID, HostName: c.HostName, CanAbsorb: c.CanAbsorb}
	}
	for _, s := range all {
		h := by[s.PrimaryHostID]
		if h == nil {
			h = &HostHealth{HostID: s.PrimaryHostID, HostName: s.PrimaryHostName}
			by[s.PrimaryHostID] = h
		}
		h.VMs++
		if !s.Replicated {
			continue
		}
		h.Replicated++
		switch s.Health {
		case HealthGood:
			h.Good++
		case HealthLagging:
			h.Lagging++
		case HealthFailing:
			h.Failing++
		default:
			h.Other++
		}
		h.MaxLag = max(h.MaxLag, s.Lag)
		if s.LastGoodAt != nil && (h.OldestGood == nil || s.LastGoodAt.Before(*h.OldestGood)) {
			h.OldestGood = s.LastGoodAt
		}
	}
	out := make([]HostHealth, 0, len(by))
	for _, h := range by {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].HostName < out[j].HostName })
	return out, nil
}
