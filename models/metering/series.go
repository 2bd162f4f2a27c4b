package metering

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"gorm.io/gorm"

	"allmende/models"
)

// Range is a graph's time span.
type Range string

const (
	Range1h  Range = "1h"
	Range24h Range = "24h"
	Range7d  Range = "7d"
	Range30d Range = "30d"
)

// Ranges in the order pages offer them.
var Ranges = []Range{Range1h, Range24h, Range7d, Range30d}

// span says where a range's points come from: rows of one level, and for
// the newest part that the rollup has not reached yet, rows of the finer
// level folded into the same step on the fly.
type span struct {
	length time.Duration
	level  level
	tail   *level
}

var spans = map[Range]span{
	Range1h:  {time.Hour, levelRaw, nil},
	Range24h: {24 * time.Hour, level5m, &levelRaw},
	Range7d:  {7 * 24 * time.Hour, levelHour, &levelRaw},
	Range30d: {30 * 24 * time.Hour, levelHour, &levelRaw},
}

// ParseRange accepts "1h", "24h", "7d" and "30d"; "" is 1h.
func ParseRange(s string) (Range, error) {
	if s == "" {
		return Range1h, nil
	}
	if _, ok := spans[Range(s)]; ok {
		return Range(s), nil
	}
	return "", models.Invalid(map[string]string{"range": "Choose 1h, 24h, 7d or 30d."})
}

// SeriesData is a graph's data in units a person reads, one array per
// line and a shared time axis (what uPlot draws). A nil value is a gap: the
// VM was off or nothing was measured.
type SeriesData struct {
	Range Range `json:"range"`
	// Step is the seconds between points.
	Step int64 `json:"step"`
	// CPUs is what 100 % CPU means: the VM's vCPUs or the host's CPUs.
	CPUs int `json:"cpus"`
	// MemoryMB is the VM's memory (or the host's), for the memory scale.
	MemoryMB float64 `json:"memory_mb"`

	T            []int64    `json:"t"` // unix seconds
	CPUPercent   []*float64 `json:"cpu_percent"`
	MemoryUsedMB []*float64 `json:"memory_used_mb"`
	DiskReadMBs  []*float64 `json:"disk_read_mb_s"`
	DiskWriteMBs []*float64 `json:"disk_write_mb_s"`
	NetRxMBs     []*float64 `json:"net_rx_mb_s"`
	NetTxMBs     []*float64 `json:"net_tx_mb_s"`
	DiskUsedGB   []*float64 `json:"disk_used_gb"`
}

// VMSeries is one VM's graph data over rng, for its owner or an admin;
// anyone else gets "not found".
func (m *Metrics) VMSeries(ctx context.Context, v models.Viewer, vmID string, rng Range, now time.Time) (*SeriesData, error) {
	db := m.db.Read.WithContext(ctx)
	var vm struct {
		OwnerID   string
		VCPUs     int `gorm:"column:vcpus"`
		MemoryMiB int `gorm:"column:memory_mib"`
	}
	err := db.Table("vms AS v").Joins("JOIN plans p ON p.id = v.plan_id").Where("v.id = ?", vmID).
		Select("v.owner_id, p.vcpus, p.memory_mib").Take(&vm).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !v.Owns(vm.OwnerID)) {
		return nil, models.NotFoundError("VM")
	}
	if err != nil {
		return nil, fmt.Errorf("read VM %s: %w", vmID, err)
	}
	return m.read(db, KindVM, vmID, rng, now, vm.VCPUs, float64(vm.MemoryMiB)*mib/1e6)
}

// HostSeries is a host's graph data; hosts are the cooperative's, every
// member may see them.
func (m *Metrics) HostSeries(ctx context.Context, hostID string, rng Range, now time.Time) (*SeriesData, error) {
	db := m.db.Read.WithContext(ctx)
	var h struct {
		CPUs        int `gorm:"column:cpus"`
		MemoryBytes int64
	}
	err := db.Table("hosts").Where("id = ?", hostID).Select("cpus, memory_bytes").Take(&h).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, models.NotFoundError("host")
	}
	if err != nil {
		return nil, fmt.Errorf("read host %s: %w", hostID, err)
	}
	return m.read(db, KindHost, hostID, rng, now, h.CPUs, float64(h.MemoryBytes)/1e6)
}

const mib = 1 << 20

func (m *Metrics) read(db *gorm.DB, kind, ref string, rng Range, now time.Time, cpus int, memMB float64) (*SeriesData, error) {
	sp, ok := spans[rng]
	if !ok {
		return nil, models.Invalid(map[string]string{"range": "Choose 1h, 24h, 7d or 30d."})
	}
	out := &SeriesData{Range: rng, Step: sp.level.step, CPUs: cpus, MemoryMB: memMB,
		// Empty arrays, not null, for a series never measured.
		T: []int64{}, CPUPercent: []*float64{}, MemoryUsedMB: []*float64{}, DiskReadMBs: []*float64{}, DiskWriteMBs: []*float64{},
		NetRxMBs: []*float64{}, NetTxMBs: []*float64{}, DiskUsedGB: []*float64{}}
	id, err := m.lookupSeries(db, kind, ref)
	if err != nil || id == 0 {
		return out, err // never measured: an empty graph
	}
	from := now.Add(-sp.length).Unix()
	rows, err := readLevel(db, sp.level, id, from)
	if err != nil {
		return nil, err
	}
	if sp.tail != nil {
		next := from
		if len(rows) > 0 {
			next = rows[len(rows)-1].At + sp.level.step
		}
		var tail []Sample
		err := db.Raw(`SELECT `+aggregate(sp.level.step)+` FROM `+sp.tail.table+` WHERE series = ? AND at >= ?
			GROUP BY series, (at / `+fmt.Sprint(sp.level.step)+`) * `+fmt.Sprint(sp.level.step)+` ORDER BY at`, id, next).Scan(&tail).Error
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", sp.tail.table, err)
		}
		rows = append(rows, tail...)
	}
	out.fill(rows)
	return out, nil
}

// readLevel reads a series' rows since from; the 5-minute level unpacks
// its hourly rows.
func readLevel(db *gorm.DB, l level, id, from int64) ([]Sample, error) {
	var rows []Sample
	if l != level5m {
		if err := db.Table(l.table).Where("series = ? AND at >= ?", id, from).Order("at").Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("read %s: %w", l.table, err)
		}
		return rows, nil
	}
	var packed []struct {
		At   int64
		Data []byte
	}
	if err := db.Table(l.table).Where("series = ? AND at >= ?", id, from/3600*3600).Order("at").Select("at, data").Find(&packed).Error; err != nil {
		return nil, fmt.Errorf("read %s: %w", l.table, err)
	}
	for _, p := range packed {
		hour, err := unpack(id, p.At, p.Data)
		if err != nil {
			return nil, fmt.Errorf("series %d at %d: %w", id, p.At, err)
		}
		for _, s := range hour {
			if s.At >= from {
				rows = append(rows, s)
			}
		}
	}
	return rows, nil
}

// fill converts rows to display units, with a gap (nil) wherever points
// are missing, so a stopped VM's line breaks instead of bridging the hours.
func (d *SeriesData) fill(rows []Sample) {
	cpus := float64(max(d.CPUs, 1))
	add := func(t int64, s *Sample) {
		d.T = append(d.T, t)
		if s == nil {
			d.CPUPercent = append(d.CPUPercent, nil)
			d.MemoryUsedMB = append(d.MemoryUsedMB, nil)
			d.DiskReadMBs = append(d.DiskReadMBs, nil)
			d.DiskWriteMBs = append(d.DiskWriteMBs, nil)
			d.NetRxMBs = append(d.NetRxMBs, nil)
			d.NetTxMBs = append(d.NetTxMBs, nil)
			d.DiskUsedGB = append(d.DiskUsedGB, nil)
			return
		}
		d.CPUPercent = append(d.CPUPercent, num(float64(s.CPU)/10/cpus))
		d.MemoryUsedMB = append(d.MemoryUsedMB, num(float64(s.Mem)/1e6))
		d.DiskReadMBs = append(d.DiskReadMBs, num(float64(s.Rd)/1e6))
		d.DiskWriteMBs = append(d.DiskWriteMBs, num(float64(s.Wr)/1e6))
		d.NetRxMBs = append(d.NetRxMBs, num(float64(s.Rx)/1e6))
		d.NetTxMBs = append(d.NetTxMBs, num(float64(s.Tx)/1e6))
		d.DiskUsedGB = append(d.DiskUsedGB, num(float64(s.Disk)/1e9))
	}
	gap := d.Step * 5 / 2
	for i := range rows {
		if i > 0 && rows[i].At-rows[i-1].At > gap {
			add(rows[i-1].At+d.Step, nil)
		}
		add(rows[i].At, &rows[i])
	}
}

// num rounds to three decimals, enough for MB/s and %, and keeps the JSON short.
func num(f float64) *float64 {
	r := math.Round(f*1000) / 1000
	return &r
}

// HostNow is a host's latest sample, for /commons and /metrics.
type HostNow struct {
	HostID string
	At     time.Time
	Sample
}

// HostsNow returns the newest sample of every host measured within maxAge.
func (m *Metrics) HostsNow(ctx context.Context, now time.Time, maxAge time.Duration) (map[string]HostNow, error) {
	db := m.db.Read.WithContext(ctx)
	var rows []struct {
		RefID string
		Sample
	}
	err := db.Raw(`SELECT s.ref_id, r.* FROM metric_series s JOIN metric_raw r ON r.series = s.id
		WHERE s.kind = ? AND r.at = (SELECT MAX(at) FROM metric_raw x WHERE x.series = s.id) AND r.at >= ?`,
		KindHost, now.Add(-maxAge).Unix()).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("latest host samples: %w", err)
	}
	out := make(map[string]HostNow, len(rows))
	for _, r := range rows {
		out[r.RefID] = HostNow{HostID: r.RefID, At: time.Unix(r.At, 0).UTC(), Sample: r.Sample}
	}
	return out, nil
}
