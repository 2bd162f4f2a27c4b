package replication

import (
	"allmende/models"
	"allmende/models/compute"
	"context"
	"time"

	"gorm.io/gorm"
)

// statusRow is one VM with its copy, as statusQuery reads it.
type statusRow struct {
	VMID                string `gorm:"column:vm_id"`
	VMName              string
	VMState             string
	OwnerEmail          string
	PlanID              string
	PlanInterval        *int64
	PrimaryHostID       string
	PrimaryHostName     string
	ReplicaHostID       *string
	ReplicaHostName     *string
	State               *string
	LastGoodAt          *time.Time
	LastRunAt           *time.Time
	NextRunAt           *time.Time
	LastError           *string
	ConsecutiveFailures *int
	BytesLast           *int64
	RunningRunID        *string `gorm:"column:running_run_id"`
	ReplicaCreatedAt    *time.Time
}

// statusQuery selects statusRow for the VMs that are not deleted; callers
// add conditions on v.*.
func statusQuery(tx *gorm.DB) *gorm.DB {
	return tx.Table("vms AS v").Select(`v.id AS vm_id, v.name AS vm_name, v.state AS vm_state, u.email AS owner_email, v.plan_id,
		p.replication_interval_seconds AS plan_interval, v.host_id AS primary_host_id, h.name AS primary_host_name,
		r.replica_host_id, rh.name AS replica_host_name, r.state, r.last_good_at, r.last_run_at, r.next_run_at,
		r.last_error, r.consecutive_failures, r.bytes_last, r.running_run_id, r.created_at AS replica_created_at`).
		Joins("JOIN users u ON u.id = v.owner_id").
		Joins("JOIN plans p ON p.id = v.plan_id").
		Joins("JOIN hosts h ON h.id = v.host_id").
		Joins("LEFT JOIN vm_replicas r ON r.vm_id = v.id").
		Joins("LEFT JOIN hosts rh ON rh.id = r.replica_host_id").
		Where("v.state <> ?", compute.VMDeleted)
}

func (row *statusRow) status(def time.Duration, now time.Time) Status {
	s := Status{VMID: row.VMID, VMName: row.VMName, OwnerEmail: row.OwnerEmail, PlanID: row.PlanID,
		PrimaryHostID: row.PrimaryHostID, PrimaryHostName: row.PrimaryHostName,
		Interval: intervalOf(row.PlanInterval, def)}
	if row.ReplicaHostID != nil {
		s.Replicated = true
		s.ReplicaHostID = *row.ReplicaHostID
		if row.ReplicaHostName != nil {
			s.ReplicaHostName = *row.ReplicaHostName
		}
		s.State = State(deref(row.State))
		s.LastGoodAt, s.LastRunAt, s.NextRunAt = utc(row.LastGoodAt), utc(row.LastRunAt), utc(row.NextRunAt)
		s.LastError = deref(row.LastError)
		if row.ConsecutiveFailures != nil {
			s.Failures = *row.ConsecutiveFailures
		}
		if row.BytesLast != nil {
			s.BytesLast = *row.BytesLast
		}
		s.Running = deref(row.RunningRunID) != ""
		// A VM still being built has its first copy pending, not paused.
		s.Paused = row.VMState != string(compute.VMRunning) && row.VMState != string(compute.VMProvisioning)
		since := now
		if row.ReplicaCreatedAt != nil {
			since = *row.ReplicaCreatedAt
		}
		s.Lag = lagOf(s.LastGoodAt, since, now)
	}
	s.Health = healthOf(&s)
	return s
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Get is one VM's replication with its last five runs; another member's
// VM is not found.
func (r *Replicas) Get(ctx context.Context, v models.Viewer, vmID string) (*Status, error) {
	db := r.db.Gorm.WithContext(ctx)
	now := r.now()
	var rows []statusRow
	if err := v.Scope(statusQuery(db), "v.owner_id").Where("v.id = ?", vmID).Scan(&rows).Error; err != nil {
		return nil, wrap("load replication of vm "+vmID, err)
	}
	if len(rows) == 0 {
		return nil, models.NotFoundError("virtual machine")
	}
	def, err := defaultInterval(db, now)
	if err != nil {
		return nil, err
	}
	s := rows[0].status(def, now)
	if err := db.Where("vm_id = ?", vmID).Order("started_at DESC, id DESC").Limit(5).Find(&s.Runs).Error; err != nil {
		return nil, wrap("load replication runs of vm "+vmID, err)
	}
	return &s, nil
}

// Filter narrows the admins' list.
type Filter string

const (
	FilterAll     Filter = ""
	FilterLagging Filter = "lagging"
	FilterFailing Filter = "failing"
)

// List is every VM's replication for the admins, by name; lagging keeps
// those older than twice their interval, failing those whose last run
// failed.
func (r *Replicas) List(ctx context.Context, v models.Viewer, f Filter) ([]Status, error) {
	if !v.Admin {
		return nil, models.Forbidden("Only administrators may do this.")
	}
	return r.list(ctx, f)
}

func (r *Replicas) list(ctx context.Context, f Filter) ([]Status, error) {
	db := r.db.Gorm.WithContext(ctx)
	now := r.now()
	var rows []statusRow
	if err := statusQuery(db).Order("LOWER(v.name), v.id").Scan(&rows).Error; err != nil {
		return nil, wrap("list replication", err)
	}
	def, err := defaultInterval(db, now)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(rows))
	for i := range rows {
		s := rows[i].status(def, now)
		switch {
		case f == FilterLagging && !s.Lagging():
			continue
		case f == FilterFailing && s.Health != HealthFailing:
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// Lags is every replicated VM's data-loss window, for the metrics.
func (r *Replicas) Lags(ctx context.Context) ([]Status, error) {
	all, err := r.list(ctx, FilterAll)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, s := range all {
		if s.Replicated {
			out = append(out, s)
		}
	}
	return out, nil
}
