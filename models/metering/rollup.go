package metering

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// level is one resolution of the series.
type level struct {
	table     string
	step      int64 // seconds per point (raw: the collection period, nominal)
	retention time.Duration
}

var (
	levelRaw  = level{"metric_raw", 15, RawRetention}
	level5m   = level{"metric_5m", 300, FiveMinRetention}
	levelHour = level{"metric_1h", 3600, HourRetention}
)

// aggregate is the SELECT list that folds raw rows into buckets of `step`
// seconds: means of rates and levels, so a 5-minute CPU value is the mean
// load in those five minutes.
func aggregate(step int64) string {
	return fmt.Sprintf(`series, (at / %[1]d) * %[1]d AS at,
		CAST(AVG(cpu) AS BIGINT) AS cpu, CAST(AVG(mem) AS BIGINT) AS mem, CAST(AVG(disk) AS BIGINT) AS disk,
		CAST(AVG(rd) AS BIGINT) AS rd, CAST(AVG(wr) AS BIGINT) AS wr,
		CAST(AVG(rx) AS BIGINT) AS rx, CAST(AVG(tx) AS BIGINT) AS tx`, step)
}

// rollupLookback is how far back Rollup looks for hours to fold; raw rows
// are kept longer than that (RawRetention), so a missed run is caught up.
const rollupLookback = 3 * time.Hour

// Rollup folds every finished hour of raw samples into its packed
// 5-minute row and its hourly row, and drops rows past their retention. It
// is idempotent (a row written once is never written again: ON CONFLICT DO
// NOTHING) and safe to run from several portals at once.
func (m *Metrics) Rollup(ctx context.Context, now time.Time) error {
	db := m.db.Gorm.WithContext(ctx)
	n := now.Unix()
	end := n / 3600 * 3600 // hours at or after end are not over yet
	start := (n - int64(rollupLookback.Seconds())) / 3600 * 3600
	var rows []Sample
	// series IN (…) lets both databases walk the (series, at) key instead
	// of scanning the table.
	err := db.Raw(`SELECT `+aggregate(300)+` FROM metric_raw
		WHERE series IN (SELECT id FROM metric_series) AND at >= ? AND at < ?
		GROUP BY series, (at / 300) * 300 ORDER BY series, at`, start, end).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("read raw samples: %w", err)
	}
	type key struct{ series, hour int64 }
	groups := map[key][]Sample{}
	var order []key
	for _, r := range rows {
		k := key{r.Series, r.At / 3600 * 3600}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	type packed struct {
		Series int64  `gorm:"column:series"`
		At     int64  `gorm:"column:at"`
		Data   []byte `gorm:"column:data"`
	}
	fives := make([]packed, 0, len(order))
	hours := make([]Sample, 0, len(order))
	for _, k := range order {
		g := groups[k]
		fives = append(fives, packed{Series: k.series, At: k.hour, Data: pack(k.hour, g)})
		hours = append(hours, mean(k.series, k.hour, g))
	}
	err = m.db.Tx(ctx, func(tx *gorm.DB) error {
		if len(fives) == 0 {
			return nil
		}
		if err := tx.Table("metric_5m").Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(fives, 500).Error; err != nil {
			return fmt.Errorf("store 5-minute rows: %w", err)
		}
		if err := tx.Table("metric_1h").Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(hours, 500).Error; err != nil {
			return fmt.Errorf("store hourly rows: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, l := range []level{levelRaw, level5m, levelHour} {
		cut := now.Add(-l.retention).Unix()
		if err := db.Exec(`DELETE FROM `+l.table+` WHERE series IN (SELECT id FROM metric_series) AND at < ?`, cut).Error; err != nil {
			return fmt.Errorf("prune %s: %w", l.table, err)
		}
	}
	return nil
}

// mean is the hour's mean of its 5-minute buckets.
func mean(series, hour int64, g []Sample) Sample {
	out := Sample{Series: series, At: hour}
	for _, s := range g {
		out.CPU += s.CPU
		out.Mem += s.Mem
		out.Disk += s.Disk
		out.Rd += s.Rd
		out.Wr += s.Wr
		out.Rx += s.Rx
		out.Tx += s.Tx
	}
	n := int64(len(g))
	out.CPU, out.Mem, out.Disk, out.Rd, out.Wr, out.Rx, out.Tx = out.CPU/n, out.Mem/n, out.Disk/n, out.Rd/n, out.Wr/n, out.Rx/n, out.Tx/n
	return out
}
