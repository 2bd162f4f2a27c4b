// Package metering measures what the cooperative's machines do and what
// each member used: VM and host metrics with downsampling (metrics.go,
// rollup.go, series.go), the members' view of the commons (commons.go), and
// usage, prices and monthly statements (usage.go, statement.go).
//
// Samples live in plain tables of the portal's own database rather than a
// time-series store: see docs/architecture.md ("Metrics storage") for why.
package metering

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"allmende/models"
	"allmende/models/internal/kit"
)

// Series kinds.
const (
	KindVM   = "vm"
	KindHost = "host"
)

// Retention of each resolution. Raw samples serve the 1-hour graph and
// the newest, not yet rolled-up part of the others; a day of them would
// take more room than a month of packed 5-minute rows.
const (
	RawRetention     = 4 * time.Hour
	FiveMinRetention = 31 * 24 * time.Hour
	HourRetention    = 2 * 366 * 24 * time.Hour
)

// maxRateGap is the longest gap between two readings that still makes a
// rate: after a longer one (the VM was off, the portal down) the counters
// may have been reset in between, so the reading only becomes the new base.
const maxRateGap = 10 * time.Minute

// Reading is one collection on a host, counters as libvirt reports them.
type Reading struct {
	At time.Time
	// Host counters; HostCPUTimeNs 0 means the host does not report it
	// (then the host's CPU is the sum of its VMs').
	HostCPUTimeNs                  uint64
	HostMemoryBytes, HostFreeBytes uint64
	HostDiskUsedBytes              uint64 // allocation of the host's active pools
	VMs                            []VMReading
}

// VMReading is one running VM's counters.
type VMReading struct {
	VMID                                    string
	CPUTimeNs                               uint64
	MemoryBytes                             uint64
	DiskBytes                               uint64
	ReadBytes, WriteBytes, RxBytes, TxBytes uint64
}

// Sample is one row of a series: rates and levels at At.
type Sample struct {
	Series int64 `gorm:"column:series"`
	At     int64 `gorm:"column:at"`
	CPU    int64 `gorm:"column:cpu"` // thousandths of a core
	Mem    int64 `gorm:"column:mem"`
	Disk   int64 `gorm:"column:disk"`
	Rd     int64 `gorm:"column:rd"`
	Wr     int64 `gorm:"column:wr"`
	Rx     int64 `gorm:"column:rx"`
	Tx     int64 `gorm:"column:tx"`
}

type last struct {
	Series  int64 `gorm:"column:series;primaryKey"`
	AtMs    int64 `gorm:"column:at_ms"`
	CPUNs   int64 `gorm:"column:cpu_ns"`
	RdBytes int64 `gorm:"column:rd_bytes"`
	WrBytes int64 `gorm:"column:wr_bytes"`
	RxBytes int64 `gorm:"column:rx_bytes"`
	TxBytes int64 `gorm:"column:tx_bytes"`
}

func (last) TableName() string { return "metric_last" }

// Metrics stores and reads the series.
type Metrics struct {
	db *models.DB
	// series caches series ids, which never change once made.
	mu     sync.Mutex
	series map[[2]string]int64
}

func NewMetrics(db *models.DB) *Metrics {
	return &Metrics{db: db, series: map[[2]string]int64{}}
}

// Record turns a host's reading into rates against the previous reading
// and stores one sample per running VM and one for the host, in one
// transaction, and returns how many VM samples it stored. A VM's first reading (or the first after a gap) only sets
// the base: rates need two.
func (m *Metrics) Record(ctx context.Context, hostID string, r Reading) (int, error) {
	db := m.db.Gorm.WithContext(ctx)
	ids := make([]string, 0, len(r.VMs))
	for _, v := range r.VMs {
		ids = append(ids, v.VMID)
	}
	known, err := liveVMs(db, ids)
	if err != nil {
		return 0, err
	}
	hostSeries, err := m.seriesID(ctx, KindHost, hostID)
	if err != nil {
		return 0, err
	}
	type item struct {
		series int64
		cur    last
		mem    int64
		disk   int64
	}
	items := make([]item, 0, len(r.VMs)+1)
	atMs := r.At.UnixMilli()
	var sumCPU uint64
	for _, v := range r.VMs {
		if !known[v.VMID] {
			continue // a domain the portal does not know (or a deleted VM's)
		}
		s, err := m.seriesID(ctx, KindVM, v.VMID)
		if err != nil {
			return 0, err
		}
		sumCPU += v.CPUTimeNs
		items = append(items, item{series: s, mem: int64(v.MemoryBytes), disk: int64(v.DiskBytes), cur: last{
			Series: s, AtMs: atMs, CPUNs: int64(v.CPUTimeNs), RdBytes: int64(v.ReadBytes), WrBytes: int64(v.WriteBytes),
			RxBytes: int64(v.RxBytes), TxBytes: int64(v.TxBytes)}})
	}
	hostCPU := r.HostCPUTimeNs
	hostSumOfVMs := hostCPU == 0
	if hostSumOfVMs {
		hostCPU = sumCPU
	}
	series := make([]int64, 0, len(items)+1)
	for _, it := range items {
		series = append(series, it.series)
	}
	series = append(series, hostSeries)
	var prev []last
	if err := db.Where("series IN ?", series).Find(&prev).Error; err != nil {
		return 0, fmt.Errorf("read last counters: %w", err)
	}
	prevOf := make(map[int64]last, len(prev))
	for _, p := range prev {
		prevOf[p.Series] = p
	}

	at := r.At.Unix()
	samples := make([]Sample, 0, len(items)+1)
	host := Sample{Series: hostSeries, At: at, Disk: int64(r.HostDiskUsedBytes),
		Mem: int64(r.HostMemoryBytes) - int64(min(r.HostFreeBytes, r.HostMemoryBytes))}
	hostRated := false
	lasts := make([]last, 0, len(items)+1)
	for _, it := range items {
		lasts = append(lasts, it.cur)
		p, ok := prevOf[it.series]
		if !ok {
			continue
		}
		s, ok := rate(p, it.cur)
		if !ok {
			continue
		}
		s.Series, s.At, s.Mem, s.Disk = it.series, at, it.mem, it.disk
		samples = append(samples, s)
		host.Rd += s.Rd
		host.Wr += s.Wr
		host.Rx += s.Rx
		host.Tx += s.Tx
		if hostSumOfVMs {
			host.CPU += s.CPU
		}
	}
	hostLast := last{Series: hostSeries, AtMs: atMs, CPUNs: int64(hostCPU)}
	if p, ok := prevOf[hostSeries]; ok && !hostSumOfVMs {
		if s, ok := rate(p, hostLast); ok {
			host.CPU, hostRated = s.CPU, true
		}
	}
	vmSamples := len(samples)
	// A host whose CPU is the sum of its VMs' has a value when they have
	// one, or when it has none running (then it is idle).
	if hostRated || vmSamples > 0 || (hostSumOfVMs && len(items) == 0) {
		samples = append(samples, host)
	}
	lasts = append(lasts, hostLast)

	err = m.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "series"}}, UpdateAll: true}).
			CreateInBatches(lasts, 500).Error; err != nil {
			return fmt.Errorf("store last counters: %w", err)
		}
		if len(samples) == 0 {
			return nil
		}
		if err := tx.Table("metric_raw").Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(samples, 500).Error; err != nil {
			return fmt.Errorf("store samples: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return vmSamples, nil
}

// rate turns two readings into per-second rates. A counter that went back
// (the guest's QEMU restarted) or a gap too long or too short gives none.
func rate(p, c last) (Sample, bool) {
	dtMs := c.AtMs - p.AtMs
	if dtMs < 1000 || dtMs > maxRateGap.Milliseconds() {
		return Sample{}, false
	}
	if c.CPUNs < p.CPUNs || c.RdBytes < p.RdBytes || c.WrBytes < p.WrBytes || c.RxBytes < p.RxBytes || c.TxBytes < p.TxBytes {
		return Sample{}, false
	}
	per := func(d int64) int64 { return d * 1000 / dtMs }
	return Sample{
		// ns per ms of wall time = millicores × 1000.
		CPU: (c.CPUNs - p.CPUNs) / dtMs / 1000,
		Rd:  per(c.RdBytes - p.RdBytes), Wr: per(c.WrBytes - p.WrBytes),
		Rx: per(c.RxBytes - p.RxBytes), Tx: per(c.TxBytes - p.TxBytes),
	}, true
}

// liveVMs returns which of ids are VMs the portal has and has not deleted.
func liveVMs(db *gorm.DB, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		var found []string
		if err := db.Table("vms").Where("id IN ? AND state <> ?", chunk, "deleted").Pluck("id", &found).Error; err != nil {
			return nil, fmt.Errorf("look up VMs: %w", err)
		}
		for _, id := range found {
			out[id] = true
		}
	}
	return out, nil
}

// seriesID returns the number of a series, making it on first use. Two
// portals making the same series at once: the unique key lets one win and
// the other reads its row.
func (m *Metrics) seriesID(ctx context.Context, kind, ref string) (int64, error) {
	key := [2]string{kind, ref}
	m.mu.Lock()
	id, ok := m.series[key]
	m.mu.Unlock()
	if ok {
		return id, nil
	}
	db := m.db.Gorm.WithContext(ctx)
	for attempt := 0; attempt < 5; attempt++ {
		var ids []int64
		if err := db.Table("metric_series").Where("kind = ? AND ref_id = ?", kind, ref).Pluck("id", &ids).Error; err != nil {
			return 0, fmt.Errorf("read series: %w", err)
		}
		if len(ids) == 1 {
			m.mu.Lock()
			m.series[key] = ids[0]
			m.mu.Unlock()
			return ids[0], nil
		}
		err := m.db.Tx(ctx, func(tx *gorm.DB) error {
			var next int64
			if err := tx.Table("metric_series").Select("COALESCE(MAX(id), 0) + 1").Row().Scan(&next); err != nil {
				return err
			}
			return tx.Exec(`INSERT INTO metric_series (id, kind, ref_id) VALUES (?, ?, ?)`, next, kind, ref).Error
		})
		if err != nil && !kit.IsUniqueViolation(err) {
			return 0, fmt.Errorf("make series: %w", err)
		}
	}
	return 0, fmt.Errorf("make series %s %s: gave up after repeated conflicts", kind, ref)
}

// lookupSeries returns the id of an existing series, or 0.
func (m *Metrics) lookupSeries(db *gorm.DB, kind, ref string) (int64, error) {
	key := [2]string{kind, ref}
	m.mu.Lock()
	id, ok := m.series[key]
	m.mu.Unlock()
	if ok {
		return id, nil
	}
	var ids []int64
	if err := db.Table("metric_series").Where("kind = ? AND ref_id = ?", kind, ref).Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("read series: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	m.mu.Lock()
	m.series[key] = ids[0]
	m.mu.Unlock()
	return ids[0], nil
}
