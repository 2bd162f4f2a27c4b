// Package jobs runs Allmende's background work on River: the client, the
// workers (small and idempotent), and the periodic jobs.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"allmende/jobs/jobargs"
	"allmende/mail"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/metering"

	"allmende/models/moderation"
	"allmende/models/replication"
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
	Hosts       *compute.Hosts
	Hypervisor  VMHypervisor
	Mail        mail.Sender // never nil: the outbox is the fallback
	Memberships MembershipDaily
	VMs         *compute.VMs
	Tasks       *compute.Tasks
	Images      *compute.Images
	Starter     *compute.Starter
	// StarterCache is where the starter.build job keeps the starter
	// guest's files (package starter).
	StarterCache string
	// UploadDir is where uploaded images are spooled; the import worker
	// reads nothing outside it. Empty allows any path (tests).
	UploadDir string
	// DomainType is the libvirt domain type for hosts whose setting leaves
	// it open; empty means "qemu" (TCG): KVM is chosen per host by the
	// admins once a KVM boot has been seen to work there.
	DomainType string
	// Lease is this instance's lease on a PostgreSQL queue (NewLease); nil
	// on SQLite.
	Lease *Lease
	// Replicas runs replication; nil leaves its jobs out. Replicator copies
	// the disks; nil makes the schedule assign and watch but copy nothing.
	Replicas   *replication.Replicas
	Replicator Replicator
	// FenceCommand is run with a host's name and URI to power it off
	// (--fence-command); empty: admins confirm fencing themselves.
	FenceCommand string
	// Metrics stores VM and host statistics; nil (or a Hypervisor that
	// cannot read statistics) leaves the collection out. MetricsEvery is
	// the collection period, DefaultMetricsEvery if zero.
	Metrics      *metering.Metrics
	MetricsEvery time.Duration
	// Commons closes the monthly statements; nil leaves that job out.
	Commons *metering.Commons

	// Moderation carries out sanctions (jobs/moderation.go); nil leaves
	// its jobs out.
	Moderation *moderation.Moderation
}

// rescueStuckJobsAfter is how long a job may stay "running" before River's
// rescuer (on the leader, every 30 s) hands it back to the queue, for a
// worker that died with its process (kill -9, power loss). It must exceed
// every worker's Timeout (the longest fixed one of the VM jobs is vmJobTimeout,
// 90 s; a replication run may take replication.RunTimeout), and
// River's rescuer additionally skips a job whose own Timeout has not yet
// passed (image imports scale theirs with the file), so a job is never
// rescued while a live worker may still act on it: past its timeout its
// context is cancelled and every libvirt call returns.
//
// On SQLite ClaimQueue does better at start-up (see there), and on
// PostgreSQL, where several portals may share the queue, the instance
// leases (instances.go) hand a dead portal's jobs to the others within
// seconds; the rescuer stays as the last resort.
const rescueStuckJobsAfter = 2 * time.Minute

// NewWorking returns a client with every worker registered and a pool of
// maxWorkers; call Start to run it.
func NewWorking(db *models.DB, log *slog.Logger, maxWorkers int, deps Deps) (*Client, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &RefreshHostWorker{hosts: deps.Hosts, hv: deps.Hypervisor})
	river.AddWorker(workers, &RefreshAllHostsWorker{hosts: deps.Hosts})
	river.AddWorker(workers, NewSendMailWorker(deps.Mail))
	river.AddWorker(workers, &ProcessMembershipsWorker{memberships: deps.Memberships})
	domainType := deps.DomainType
	if domainType == "" {
		domainType = "qemu"
	}
	vw := &vmWorkers{vms: deps.VMs, tasks: deps.Tasks, hv: deps.Hypervisor, logger: log, domainType: domainType}
	river.AddWorker(workers, &VMCreateWorker{vmJob[jobargs.VMCreate]{vmWorkers: vw}})
	river.AddWorker(workers, &VMStartWorker{vmJob[jobargs.VMStart]{vmWorkers: vw}})
	river.AddWorker(workers, &VMShutdownWorker{vmJob[jobargs.VMShutdown]{vmWorkers: vw}})
	river.AddWorker(workers, &VMPowerOffWorker{vmJob[jobargs.VMPowerOff]{vmWorkers: vw}})
	river.AddWorker(workers, &VMRebootWorker{vmJob[jobargs.VMReboot]{vmWorkers: vw}})
	river.AddWorker(workers, &VMResizeWorker{vmJob[jobargs.VMResize]{vmWorkers: vw}})
	river.AddWorker(workers, &VMDeleteWorker{vmJob[jobargs.VMDelete]{vmWorkers: vw}})
	river.AddWorker(workers, &ImageImportWorker{images: deps.Images, hv: deps.Hypervisor, uploadDir: deps.UploadDir, logger: log})
	river.AddWorker(workers, &StarterBuildWorker{starter: deps.Starter, images: deps.Images, hv: deps.Hypervisor,
		cacheDir: deps.StarterCache, logger: log})
	reconcile := &ReconcileWorker{hosts: deps.Hosts, vms: deps.VMs, tasks: deps.Tasks, hv: deps.Hypervisor, logger: log}
	river.AddWorker(workers, reconcile)

	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(reconcileInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.Reconcile{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.RefreshAllHosts{}, nil },
			&river.PeriodicJobOpts{RunOnStart: false}),
		// Hourly rather than daily: it is cheap and idempotent, and a
		// notice then takes effect within the hour of its date even if
		// the portal was down at midnight.
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.ProcessMemberships{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
	if deps.Replicas != nil {
		river.AddWorker(workers, NewReplicationScheduleWorker(deps.Replicas, deps.Replicator, log))
		river.AddWorker(workers, NewReplicationRunWorker(deps.Replicas, deps.Replicator, log))
		river.AddWorker(workers, NewReplicaRemoveWorker(deps.Replicas, deps.Replicator, log))
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(scheduleEvery),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.ReplicationSchedule{}, scheduleOpts() },
			&river.PeriodicJobOpts{RunOnStart: true}))
		// Failover (jobs/failover.go).
		river.AddWorker(workers, &FailoverWorker{vmJob: vmJob[jobargs.ReplicationFailover]{vmWorkers: vw}, reps: deps.Replicas})
		pause, _ := deps.Hypervisor.(Pauser)
		live, _ := deps.Hypervisor.(LiveMigrator)
		river.AddWorker(workers, &SwitchoverWorker{vmJob: vmJob[jobargs.ReplicationSwitchover]{vmWorkers: vw}, reps: deps.Replicas,
			replicator: deps.Replicator, pause: pause, live: live})
		river.AddWorker(workers, &FenceWorker{hosts: deps.Hosts, reps: deps.Replicas, command: deps.FenceCommand, logger: log})
		river.AddWorker(workers, &ReclaimWorker{reps: deps.Replicas, hv: deps.Hypervisor, logger: log})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(reclaimEvery),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.ReclaimHosts{}, scheduleOpts() },
			&river.PeriodicJobOpts{RunOnStart: true}))
	}

	periodic = append(periodic, metricsJobs(workers, deps)...)

	if mhv, ok := deps.Hypervisor.(ModerationHypervisor); ok && deps.Moderation != nil {
		en := &enforcer{mod: deps.Moderation, vms: deps.VMs, hv: mhv, logger: log}
		reconcile.sanctions = en
		river.AddWorker(workers, &ModerationEnforceWorker{e: en})
		river.AddWorker(workers, &ModerationSweepWorker{mod: deps.Moderation, logger: log})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(sweepEvery),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.ModerationSweep{}, scheduleOpts() },
			&river.PeriodicJobOpts{RunOnStart: true}))
	}

	var middleware []rivertype.Middleware
	if deps.Lease != nil {
		middleware = append(middleware, deps.Lease.middleware())
	}
	c, err := river.NewClient(driver(db), &river.Config{
		// The instance's ID names it in river_job.attempted_by, which is
		// how the others find the jobs of a dead one.
		ID:         deps.Lease.ID(),
		Middleware: middleware,
		Logger:     riverLog(log),
		Workers:    workers,
		// FetchCooldown and FetchPollInterval stay at River's defaults: on
		// SQLite an insert reaches the workers through riversqlite's
		// notification table (polled every 50 ms), and e2e/vmbench measured
		// a job pickup of ~25 ms at p50.
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		RescueStuckJobsAfter: rescueStuckJobsAfter,
		PeriodicJobs:         periodic,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return c, nil
}

// scheduleOpts keeps one schedule job queued at a time: with several
// portals on PostgreSQL only the leader enqueues periodic jobs, and a slow
// schedule must not pile up behind itself.
func scheduleOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
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

// ClaimQueue makes this process the only one working jobs on a SQLite
// database and hands the jobs a previous process left "running" back to
// the queue at once. Call it before the working client starts and call
// release when that client has stopped.
//
// Why: a portal killed mid-job (kill -9, power loss) leaves its jobs in
// state running, which River's rescuer only takes back after
// rescueStuckJobsAfter, plus up to 30 s for its next round, plus up to
// 15 s for the new process to win leadership (the dead leader's lease
// must expire first). A SQLite database is worked by one process: the
// lock taken here (flock on <db>.workers.lock, released by the kernel when
// the process dies) makes sure of it, so every job that is running while we
// hold the lock, before our client started, belongs to a process that is
// gone and can be made available right away. It goes through River's own
// rescue (the driver's JobRescueMany), so the job's errors list and rescue
// count record it; the attempt is not refunded, and a job handed back at
// its last attempt still gets that one run, whose worker then records the
// failure (instead of River discarding it and leaving its task open).
//
// On PostgreSQL several portals may share the queue and a running job may
// belong to a live one, so nothing is handed back here: the instance leases
// (NewLease) do it once the job's instance stopped heartbeating.
func ClaimQueue(ctx context.Context, db *models.DB, log *slog.Logger) (release func() error, err error) {
	if db.Dialect != models.SQLite {
		return func() error { return nil }, nil
	}
	var file string
	if err := db.SQL.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		return nil, fmt.Errorf("locate sqlite database: %w", err)
	}
	if file == "" {
		// An in-memory database lives and dies with this process.
		return func() error { return nil }, nil
	}
	lock, err := os.OpenFile(file+".workers.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("job lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another portal is running jobs on %s", file)
		}
		return nil, fmt.Errorf("job lock %s: %w", lock.Name(), err)
	}
	release = func() error { return lock.Close() } // closing drops the flock
	n, err := handBack(ctx, riversqlite.New(db.SQL).GetExecutor())
	if err != nil {
		release()
		return nil, err
	}
	if n > 0 {
		log.Warn("handed back jobs left running by a previous process", "jobs", n)
	}
	return release, nil
}

// handBack makes every running job available now.
func handBack(ctx context.Context, exec riverdriver.Executor) (int, error) {
	// Any attempted_at counts: the horizon lies in the future.
	horizon := time.Now().Add(24 * time.Hour)
	stuck, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{Max: 10000, StuckHorizon: horizon})
	if err != nil {
		return 0, fmt.Errorf("find orphaned jobs: %w", err)
	}
	if len(stuck) == 0 {
		return 0, nil
	}
	jobs := make([]rescueJob, len(stuck))
	for i, j := range stuck {
		jobs[i] = rescueJob{id: j.ID, attempt: j.Attempt, why: "the portal stopped while working on this job; handed back at start-up"}
	}
	if err := rescue(ctx, exec, jobs); err != nil {
		return 0, err
	}
	return len(stuck), nil
}

// rescueJob is a running job to hand back, and why.
type rescueJob struct {
	id      int64
	attempt int
	why     string
}

// rescue makes running jobs available now through River's own rescue, so
// that each job's errors list and rescue count record it. The attempt is
// not refunded.
func rescue(ctx context.Context, exec riverdriver.Executor, jobs []rescueJob) error {
	// Any attempted_at counts: the horizon lies in the future.
	horizon := time.Now().Add(24 * time.Hour)
	now := time.Now().UTC()
	p := &riverdriver.JobRescueManyParams{StuckHorizon: horizon}
	for _, j := range jobs {
		e, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: max(j.attempt, 0), Error: j.why})
		if err != nil {
			return fmt.Errorf("attempt error: %w", err)
		}
		p.ID = append(p.ID, j.id)
		p.Error = append(p.Error, e)
		p.FinalizedAt = append(p.FinalizedAt, nil)
		p.ScheduledAt = append(p.ScheduledAt, now)
		p.State = append(p.State, string(rivertype.JobStateAvailable))
	}
	if _, err := exec.JobRescueMany(ctx, p); err != nil {
		return fmt.Errorf("hand back orphaned jobs: %w", err)
	}
	return nil
}
