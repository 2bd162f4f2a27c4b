// Package jobs runs Allmende's background work on River: the client, the
// workers (small and idempotent), and the periodic jobs.
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"allmende/jobs/jobargs"
	"allmende/mail"
	"allmende/models"
)

// Client is River's client over database/sql, the same type for SQLite and
// PostgreSQL, so the rest of the portal never cares which one runs.
type Client = river.Client[*sql.Tx]

func driver(db *models.DB) riverdriver.Driver[*sql.Tx] {
	if db.Dialect == models.Postgres {
		return riverdatabasesql.New(db.SQL)
	}
	return riversqlite.New(db.SQL)
}

// Migrate applies River's own schema migrations.
func Migrate(ctx context.Context, db *models.DB, log *slog.Logger) error {
	m, err := rivermigrate.New(driver(db), &rivermigrate.Config{Logger: riverLog(log)})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// NewInsertOnly returns a client that can enqueue but works nothing; the
// command line uses it next to a running server.
func NewInsertOnly(db *models.DB, log *slog.Logger) (*Client, error) {
	c, err := river.NewClient(driver(db), &river.Config{Logger: riverLog(log)})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return c, nil
}

// Deps are what the workers need from the rest of the portal.
type Deps struct {
	Hosts       *models.Hosts
	Hypervisor  Hypervisor
	Mail        mail.Sender // never nil: the outbox is the fallback
	Memberships MembershipDaily
}

// NewWorking returns a client with every worker registered and a pool of
// maxWorkers; call Start to run it.
func NewWorking(db *models.DB, log *slog.Logger, maxWorkers int, deps Deps) (*Client, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &RefreshHostWorker{hosts: deps.Hosts, hv: deps.Hypervisor})
	river.AddWorker(workers, &RefreshAllHostsWorker{hosts: deps.Hosts})
	river.AddWorker(workers, NewSendMailWorker(deps.Mail))
	river.AddWorker(workers, &ProcessMembershipsWorker{memberships: deps.Memberships})

	c, err := river.NewClient(driver(db), &river.Config{
		Logger:  riverLog(log),
		Workers: workers,
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		// A job whose worker died with the process (kill -9) is handed to
		// another worker after this long.
		RescueStuckJobsAfter: 5 * time.Minute,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return jobargs.RefreshAllHosts{}, nil },
				&river.PeriodicJobOpts{RunOnStart: false}),
			// Hourly rather than daily: it is cheap and idempotent, and a
			// notice then takes effect within the hour of its date even if
			// the portal was down at midnight.
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return jobargs.ProcessMemberships{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return c, nil
}

// CountByState reports how many jobs are in each River state, for /metrics.
func CountByState(ctx context.Context, db *models.DB) (map[string]int64, error) {
	rows, err := db.SQL.QueryContext(ctx, `SELECT state, COUNT(*) FROM river_job GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("scan job count: %w", err)
		}
		out[state] = n
	}
	return out, rows.Err()
}
