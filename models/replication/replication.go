// Package replication copies each VM's disk on a schedule to a standby
// ("replica") host, so that a failed host's VMs can be started elsewhere
// with at most one interval of data lost.
//
// A VM has a primary host (vms.host_id, where it runs) and a replica host
// (vm_replicas.replica_host_id). The replica host is chosen when the VM is
// placed, through compute's PlacementGuard, in the placing transaction; the
// same guard refuses a host whose standby could not take over all its VMs
// (N+1). VMs placed before a second host existed get a replica host from
// the periodic schedule job (AssignMissing).
//
// A run copies the disk from the last good checkpoint (incremental) or
// whole (full, when there is none); only a verified run moves the last
// good copy forward, so a failed or interrupted run leaves the previous one
// usable and the next run catches up from it.
package replication

import (
	"allmende/models"
	"allmende/models/rulebook"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// State is where a VM's copy stands.
type State string

const (
	StateNone    State = "none"    // assigned, no run yet
	StateSeeding State = "seeding" // the first, full copy is running
	StateGood    State = "good"    // the last run was verified
	StateFailed  State = "failed"  // the last run failed; the last good copy (if any) stays
)

// Health is what people read about a VM's copy.
type Health string

const (
	HealthNone    Health = "not replicated" // no replica host (a single host)
	HealthSeeding Health = "first copy pending"
	HealthGood    Health = "good"
	HealthLagging Health = "lagging" // the copy is older than twice the interval
	HealthFailing Health = "failing" // the last run failed
	// HealthPaused: the VM is not running, so no copies are taken; the
	// last good copy stays.
	HealthPaused Health = "paused while the VM is not running"
)

// Replica is the state of one VM's copy.
type Replica struct {
	VMID                string `gorm:"column:vm_id;primaryKey"`
	ReplicaHostID       string
	State               State
	LastGoodAt          *time.Time // the moment the last good copy holds
	LastGoodCheckpoint  string
	LastRunAt           *time.Time
	LastError           string
	ConsecutiveFailures int
	NextRunAt           time.Time
	BytesLast           int64
	RunningRunID        string `gorm:"column:running_run_id"`
	RunningSince        *time.Time
	// RunningJobID is the River job whose attempt holds the lease (0 for a
	// failover or switchover): a later attempt of that job takes over.
	RunningJobID int64 `gorm:"column:running_job_id"`
	// ApplyRunID is a run whose staged copy is being put into the replica
	// (the copy is dirty meanwhile); the next job of the VM finishes it.
	ApplyRunID   string `gorm:"column:apply_run_id"`
	LaggingSince *time.Time
	// CopyDirty: a failed run may have written into the copy, which then
	// holds neither the last good point in time nor a later one; no
	// failover starts from it until the next good run.
	CopyDirty bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (Replica) TableName() string { return "vm_replicas" }

// Run is one copy of a VM's disk.
type Run struct {
	ID             string
	VMID           string `gorm:"column:vm_id"`
	ReplicaHostID  string
	Kind           string // full | incremental
	StartedAt      time.Time
	FinishedAt     *time.Time
	BytesSent      int64
	Extents        int64
	DurationMS     int64 `gorm:"column:duration_ms"`
	Verified       bool
	Error          string
	FromCheckpoint string
	NewCheckpoint  string
	Staged         string // JSON of Staged, once the staged copy is complete
}

func (Run) TableName() string { return "replication_runs" }

// Succeeded reports whether the run moved the last good copy forward.
func (r *Run) Succeeded() bool { return r.FinishedAt != nil && r.Error == "" && r.Verified }

// Duration is how long the copy took.
func (r *Run) Duration() time.Duration { return time.Duration(r.DurationMS) * time.Millisecond }

const (
	RunFull        = "full"
	RunIncremental = "incremental"
)

// Status is a VM's replication as its page, the admin page and the API
// show it.
type Status struct {
	VMID            string
	VMName          string
	OwnerEmail      string
	PlanID          string
	PrimaryHostID   string
	PrimaryHostName string
	Replicated      bool // has a replica host
	ReplicaHostID   string
	ReplicaHostName string
	State           State
	LastGoodAt      *time.Time
	LastRunAt       *time.Time
	NextRunAt       *time.Time
	LastError       string
	Failures        int
	BytesLast       int64
	Running         bool
	Paused          bool // the VM was built but is not running: no runs are scheduled (see Due)
	Interval        time.Duration
	// Lag is the data-loss window: how much would be lost if the primary
	// failed now (since the last good copy, or since replication began).
	Lag    time.Duration
	Health Health
	Runs   []Run // newest first; only in Get
}

// Lagging reports whether the copy is older than twice the interval. A
// paused copy does not lag: no run can be taken while the VM is not
// running, so there is nothing to alert about.
func (s *Status) Lagging() bool { return s.Replicated && !s.Paused && s.Lag > 2*s.Interval }

// Replicas is the replication domain's service.
type Replicas struct {
	db    *models.DB
	queue models.Queue
	clock models.Clock
}

// New wires the service; clock is what "now" is for schedules and lag.
func New(db *models.DB, queue models.Queue, clock models.Clock) *Replicas {
	if clock == nil {
		clock = models.SystemClock{}
	}
	return &Replicas{db: db, queue: queue, clock: clock}
}

func (r *Replicas) now() time.Time { return r.clock.Now().UTC() }

// defaultInterval is the rule in force at now, read through tx.
func defaultInterval(tx *gorm.DB, now time.Time) (time.Duration, error) {
	p, err := rulebook.RulesAt(tx, now)
	if err != nil {
		return 0, err
	}
	return time.Duration(p.ReplicationIntervalSeconds) * time.Second, nil
}

// intervalOf is a plan's own interval or the rule's.
func intervalOf(planSeconds *int64, def time.Duration) time.Duration {
	if planSeconds != nil && *planSeconds > 0 {
		return time.Duration(*planSeconds) * time.Second
	}
	return def
}

// backoff is how long after the n-th failure in a row the next run
// starts: 30 s, 1 m, 2 m, … never later than the interval.
func backoff(n int, interval time.Duration) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < interval; i++ {
		d *= 2
	}
	return min(d, interval)
}

// lagOf is the data-loss window at now.
func lagOf(lastGood *time.Time, since, now time.Time) time.Duration {
	if lastGood != nil {
		since = *lastGood
	}
	return max(now.Sub(since), 0)
}

func healthOf(s *Status) Health {
	switch {
	case !s.Replicated:
		return HealthNone
	case s.Paused:
		return HealthPaused
	case s.Failures > 0:
		return HealthFailing
	case s.Lagging():
		return HealthLagging
	case s.LastGoodAt == nil:
		return HealthSeeding
	}
	return HealthGood
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := models.AsError(err); ok {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
