package metering

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// level is one resolution of the series.
type level struct {
	table     string
	step      int64 // seconds per row (raw: the collection period, nominal)
	retention time.Duration
}

var (
	levelRaw  = level{"metric_raw", 15, RawRetention}
	level5m   = level{"metric_5m", 300, FiveMinRetention}
	levelHour = level{"metric_1h", 3600, HourRetention}
)

// aggregate is the SELECT list that folds finer rows into buckets of
// `step` seconds: averages for rates and levels, so a 5-minute CPU value is
// the mean load in those five minutes.
func aggregate(step int64) string {
	return fmt.Sprintf(`series, (at / %[1]d) * %[1]d AS at,
		CAST(AVG(cpu) AS BIGINT) AS cpu, CAST(AVG(mem) AS BIGINT) AS mem, CAST(AVG(disk) AS BIGINT) AS disk,
		CAST(AVG(rd) AS BIGINT) AS rd, CAST(AVG(wr) AS BIGINT) AS wr,
		CAST(AVG(rx) AS BIGINT) AS rx, CAST(AVG(tx) AS BIGINT) AS tx`, step)
}

// Rollup folds finished buckets into the coarser tables and drops rows
// past their retention. It is idempotent (a bucket written once is never
// written again: ON CONFLICT DO NOTHING) and safe to run from several
// portals at once. It looks back over a window longer than its period, so
// a missed run is caught up by the next.
func (m *Metrics) Rollup(ctx context.Context, now time.Time) error {
	db := m.db.Gorm.WithContext(ctx)
	n := now.Unix()
	if err := rollup(db, levelRaw, level5m, n-3*3600, n); err != nil {
		return err
	}
	if err := rollup(db, level5m, levelHour, n-3*86400, n); err != nil {
		return err
	}
	for _, l := range []level{levelRaw, level5m, levelHour} {
		cut := now.Add(-l.retention).Unix()
		// series IN (…) lets both databases walk the (series, at) key
		// instead of scanning the table.
		if err := db.Exec(`DELETE FROM `+l.table+` WHERE series IN (SELECT id FROM metric_series) AND at < ?`, cut).Error; err != nil {
			return fmt.Errorf("prune %s: %w", l.table, err)
		}
	}
	return nil
}

// rollup writes the buckets of `to` that ended before now from the rows of
// `from` since `since`.
func rollup(db *gorm.DB, from, to level, since, now int64) error {
	start := since / to.step * to.step
	end := now / to.step * to.step // buckets at or after end are not over yet
	err := db.Exec(`INSERT INTO `+to.table+` (series, at, cpu, mem, disk, rd, wr, rx, tx)
		SELECT `+aggregate(to.step)+` FROM `+from.table+`
		WHERE series IN (SELECT id FROM metric_series) AND at >= ? AND at < ?
		GROUP BY series, (at / `+fmt.Sprint(to.step)+`) * `+fmt.Sprint(to.step)+`
		ON CONFLICT (series, at) DO NOTHING`, start, end).Error
	if err != nil {
		return fmt.Errorf("roll %s up into %s: %w", from.table, to.table, err)
	}
	return nil
}
