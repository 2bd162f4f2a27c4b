package metering

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"allmende/models"
)

// FillRollups writes packed 5-minute and hourly rows for the series from
// from to to with values from gen, exactly as Rollup stores them. Only the
// benchmark uses it (e2e/metricsbench), to measure a month of storage
// without waiting a month.
func FillRollups(ctx context.Context, db *models.DB, series []int64, from, to time.Time, gen func(series, at int64) Sample) error {
	type packed struct {
		Series int64  `gorm:"column:series"`
		At     int64  `gorm:"column:at"`
		Data   []byte `gorm:"column:data"`
	}
	for _, s := range series {
		var fives []packed
		var hours []Sample
		for h := from.Unix() / 3600 * 3600; h < to.Unix(); h += 3600 {
			var g []Sample
			for k := int64(0); k < bucketsPerHour; k++ {
				g = append(g, gen(s, h+k*300))
			}
			fives = append(fives, packed{Series: s, At: h, Data: pack(h, g)})
			hours = append(hours, mean(s, h, g))
		}
		g := db.Gorm.WithContext(ctx)
		if err := g.Table("metric_5m").Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(fives, 500).Error; err != nil {
			return fmt.Errorf("fill 5-minute rows: %w", err)
		}
		if err := g.Table("metric_1h").Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(hours, 500).Error; err != nil {
			return fmt.Errorf("fill hourly rows: %w", err)
		}
	}
	return nil
}
