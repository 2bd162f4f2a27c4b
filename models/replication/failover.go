package replication

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/internal/kit"
)

// Failover (issue 10). A host that stopped answering is fenced — an admin
// confirms it is powered off or cut off, or the configured fence command
// does — and only then are its VMs started on their replica hosts, each by
// a job with its task log (the "failover" task). Fencing, every VM's move
// and every VM that is not moved are in the audit log.
//
// Never two copies running: Failover refuses a host that answers, and a
// VM moves only in the same transaction as the fencing; the old host's
// domains of moved VMs are never started (no portal path starts a domain
// on a host other than vms.host_id, and the reconciler reports them as
// orphans) and are removed by the reclaim job when the host answers again
// (Reclaim*), after which the host is no longer fenced and becomes the
// replica host of the VMs that left it (a full copy).
//
// The VM runs on the new host on a qcow2 overlay over the raw copy (a new
// disk generation, compute.DiskVolumeOf): creating it copies nothing, and
// a qcow2 v3 disk is what checkpoints, and so the next replication run,
// need (a raw disk cannot have one).

// How a host was confirmed fenced.
const (
	FenceConfirmed = "confirmed by admin"
	FenceCommand   = "fence command"
)

// NoGoodCopyReason is what a member reads on a VM of a fenced host that
// was not started elsewhere.
const NoGoodCopyReason = "no good copy — not started"

// HostNotAnswering is what members read on the VMs of a host that does not
// answer (views).
const HostNotAnswering = "host not answering"

// FailoverRecord is one VM's move off a fenced host.
type FailoverRecord struct {
	ID             string
	VMID           string `gorm:"column:vm_id"`
	TaskID         string
	Epoch          int64
	FromHostID     string
	ToHostID       string
	Pool           string
	OldVolume      string
	CopyVolume     string
	NewVolume      string
	DiskGeneration int64
	LastGoodAt     time.Time
	PriorState     compute.VMState
	FencedAt       time.Time
	CreatedAt      time.Time
	FinishedAt     *time.Time
	CleanedAt      *time.Time
	CleanupNote    string
}

func (FailoverRecord) TableName() string { return "vm_failovers" }

// DataLossWindow is at most how much the VM lost: the time from its last
// good copy to the fencing (the host died at the latest then).
func (f *FailoverRecord) DataLossWindow() time.Duration { return max(f.FencedAt.Sub(f.LastGoodAt), 0) }

// Candidate is a VM on a host as the failover page shows it: whether a
// failover would start it on its replica host, and if not, why.
type Candidate struct {
	VMID            string `gorm:"column:vm_id"`
	VMName          string
	OwnerEmail      string
	State           compute.VMState
	ReplicaHostID   *string
	ReplicaHostName *string
	ReplicaState    *string
	LastGoodAt      *time.Time
	RunningRunID    *string `gorm:"column:running_run_id"`
	CopyDirty       *bool
	ApplyRunID      *string `gorm:"column:apply_run_id"`
	ImageID         string
	DiskGeneration  int64
	ReplicaUp       bool `gorm:"column:replica_up"`

	Ready  bool   `gorm:"-"`
	Reason string `gorm:"-"` // why not, in words (English)
	// ReasonMsg is Reason for translation where it is shown.
	ReasonMsg models.Msg `gorm:"-"`
}

// notStarted records why c is not started.
func (c *Candidate) notStarted(m models.Msg) { c.ReasonMsg, c.Reason = m, m.String() }

// Standby is the replica host's name, or "".
func (c *Candidate) Standby() string { return deref(c.ReplicaHostName) }

// judge decides whether c can be started on its replica host.
func (c *Candidate) judge(hostID string) {
	c.LastGoodAt = utc(c.LastGoodAt)
	switch {
	case c.State == compute.VMProvisioning:
		c.notStarted(models.Msgf("provisioning — not started"))
	case c.State == compute.VMDeleting:
		c.notStarted(models.Msgf("deleting — not started"))
	case c.ReplicaHostID == nil || *c.ReplicaHostID == hostID:
		c.notStarted(models.Msgf("no standby host — not started"))
	case !c.ReplicaUp:
		c.notStarted(models.Msgf("standby host %s is not answering — not started", c.Standby()))
	case deref(c.ApplyRunID) != "":
		// A complete staged copy is being put into the copy: the next job
		// of the VM finishes it, then the copy is good again.
		c.notStarted(models.Msgf("the last copy is being put in place on the standby host — not started; try again when it has ended"))
	case c.LastGoodAt == nil || deref(c.CopyDirty):
		c.notStarted(models.Msgf(NoGoodCopyReason))
	case deref(c.RunningRunID) != "":
		// A run may be writing the copy right now: starting from it could
		// start a half-made disk.
		c.notStarted(models.Msgf("a copy is being written — not started; try again when it has ended"))
	default:
		c.Ready = true
	}
}

func candidates(tx *gorm.DB, hostID string) ([]Candidate, error) {
	var out []Candidate
	err := tx.Table("vms AS v").Select(`v.id AS vm_id, v.name AS vm_name, u.email AS owner_email, v.state, v.image_id,
		v.disk_generation, r.replica_host_id, rh.name AS replica_host_name, r.state AS replica_state, r.last_good_at,
		r.running_run_id, r.copy_dirty, r.apply_run_id,
		CASE WHEN rh.reachable = TRUE AND rh.fenced_at IS NULL THEN 1 ELSE 0 END AS replica_up`).
		Joins("JOIN users u ON u.id = v.owner_id").
		Joins("LEFT JOIN vm_replicas r ON r.vm_id = v.id").
		Joins("LEFT JOIN hosts rh ON rh.id = r.replica_host_id").
		Where("v.host_id = ? AND v.state <> ?", hostID, compute.VMDeleted).
		Order("LOWER(v.name), v.id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list vms of host %s: %w", hostID, err)
	}
	for i := range out {
		out[i].judge(hostID)
	}
	return out, nil
}

// FailoverRow is a past move as the failover page lists it.
type FailoverRow struct {
	FailoverRecord
	VMName     string
	ToHostName string
	TaskStatus compute.TaskStatus
}

// FailoverPage is a host's failover page.
type FailoverPage struct {
	Host      compute.Host
	VMs       []Candidate
	Failovers []FailoverRow // from this host, newest first
}

// Ready counts the VMs a failover would start.
func (p *FailoverPage) Ready() int {
	n := 0
	for _, c := range p.VMs {
		if c.Ready {
			n++
		}
	}
	return n
}

// FailoverOverview is a host's failover page for the admins.
func (r *Replicas) FailoverOverview(ctx context.Context, v models.Viewer, hostID string) (*FailoverPage, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	db := r.db.Gorm.WithContext(ctx)
	p := &FailoverPage{}
	if err := kit.First(db, &p.Host, hostID, "host"); err != nil {
		return nil, err
	}
	var err error
	if p.VMs, err = candidates(db, hostID); err != nil {
		return nil, err
	}
	err = db.Table("vm_failovers AS f").Select("f.*, v.name AS vm_name, h.name AS to_host_name, t.status AS task_status").
		Joins("JOIN vms v ON v.id = f.vm_id").Joins("JOIN hosts h ON h.id = f.to_host_id").
		Joins("JOIN tasks t ON t.id = f.task_id").
		Where("f.from_host_id = ?", hostID).Order("f.created_at DESC, f.id DESC").Limit(50).Scan(&p.Failovers).Error
	if err != nil {
		return nil, wrap("list failovers of host "+hostID, err)
	}
	return p, nil
}

// FailoverInput is the admin's confirmation.
type FailoverInput struct {
	Confirmed bool   // "I confirm host X is powered off or cut off"
	HostName  string // typed
	Method    string // FenceConfirmed or FenceCommand
}

// FailoverResult is what a failover did.
type FailoverResult struct {
	Host       compute.Host
	Started    []Candidate // a failover task and job each
	NotStarted []Candidate // with the reason
}

// Failover fences a host that does not answer and, in the same
// transaction, starts each of its VMs that has a good copy on its replica
// host: the VM enters starting, gets a "failover" task and a
// replication.failover job. A VM without a good copy keeps its host and
// gets the reason as its state reason; nothing is started half-made.
// Fencing an already fenced host again fails over what is left (a VM whose
// copy became good meanwhile). A host that answers is refused (409): its
// VMs may be running.
func (r *Replicas) Failover(ctx context.Context, actor models.Actor, v models.Viewer, hostID string, in FailoverInput) (*FailoverResult, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	if in.Method != FenceConfirmed && in.Method != FenceCommand {
		return nil, fmt.Errorf("failover of host %s: unknown fence method %q", hostID, in.Method)
	}
	res := &FailoverResult{}
	err := r.db.Tx(ctx, func(tx *gorm.DB) error {
		h := &res.Host
		if err := kit.First(kit.ForUpdate(tx), h, hostID, "host"); err != nil {
			return err
		}
		if in.Method == FenceConfirmed {
			fields := map[string]models.Msg{}
			if !in.Confirmed {
				fields["confirm"] = models.Msgf("Confirm that host %s is powered off or cut off.", h.Name)
			}
			if strings.TrimSpace(in.HostName) != h.Name {
				fields["host_name"] = models.Msgf("Type the host's name, %s, to confirm.", h.Name)
			}
			if len(fields) > 0 {
				return models.InvalidMsgs(fields)
			}
		}
		if h.Reachable {
			return models.ErrorMsg(http.StatusConflict, models.Msgf(
				"Host %s answered at its last check, so its virtual machines may be running: a failover could run them twice. "+
					"Check the host again (refresh) once it is off; only a host that does not answer can be failed over.", h.Name))
		}
		now := r.now()
		if !h.Fenced() {
			h.FencedAt, h.FencedBy, h.FenceMethod, h.FailoverEpoch = &now, actor.Email, in.Method, h.FailoverEpoch+1
			if err := tx.Model(&compute.Host{}).Where("id = ?", h.ID).Updates(map[string]any{
				"fenced_at": now, "fenced_by": actor.Email, "fence_method": in.Method, "failover_epoch": h.FailoverEpoch,
			}).Error; err != nil {
				return fmt.Errorf("fence host %s: %w", h.Name, err)
			}
		}
		if err := kit.RecordAudit(tx, actor, "host.fenced", "host", h.ID, map[string]any{
			"name": h.Name, "method": in.Method, "confirmed_by": actor.Email, "epoch": h.FailoverEpoch,
		}); err != nil {
			return err
		}
		cands, err := candidates(tx, h.ID)
		if err != nil {
			return err
		}
		for _, c := range cands {
			if !c.Ready {
				res.NotStarted = append(res.NotStarted, c)
				if err := notStartedTx(tx, actor, h, c); err != nil {
					return err
				}
				continue
			}
			if err := r.failoverTx(ctx, tx, actor, h, c, now); err != nil {
				return err
			}
			res.Started = append(res.Started, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// notStartedTx reports a VM that stays on the fenced host: its state
// reason says why (error and missing VMs keep theirs) and the audit log has
// it.
func notStartedTx(tx *gorm.DB, actor models.Actor, h *compute.Host, c Candidate) error {
	if c.State != compute.VMError && c.State != compute.VMMissing {
		if err := tx.Model(&compute.VM{}).Where("id = ?", c.VMID).
			Updates(map[string]any{"state_reason": c.Reason, "updated_at": kit.UTCNow()}).Error; err != nil {
			return fmt.Errorf("report vm %s: %w", c.VMID, err)
		}
	}
	return kit.RecordAudit(tx, actor, "vm.failover_skipped", "vm", c.VMID, map[string]any{
		"host": h.Name, "reason": c.Reason, "standby": c.Standby()})
}

// failoverTx moves one VM into starting with a failover task and job. An
// open task of the VM (a job stuck on the dead host) fails first: its job
// then finds the task finished and does nothing.
func (r *Replicas) failoverTx(ctx context.Context, tx *gorm.DB, actor models.Actor, h *compute.Host, c Candidate, now time.Time) error {
	var vm compute.VM
	if err := kit.First(kit.ForUpdate(tx), &vm, c.VMID, "virtual machine"); err != nil {
		return err
	}
	if err := tx.Model(&compute.Task{}).Where("vm_id = ? AND status IN ?", vm.ID, []compute.TaskStatus{compute.TaskQueued, compute.TaskRunning}).
		Updates(map[string]any{"status": compute.TaskFailed, "finished_at": now, "error": "host " + h.Name + " stopped answering; the virtual machine is failed over"}).Error; err != nil {
		return fmt.Errorf("close open tasks of vm %s: %w", vm.ID, err)
	}
	prior := vm.State
	if prior.Transitional() {
		prior = vm.PriorState // what the member wanted before the stuck job
	}
	if prior == compute.VMStarting || prior == compute.VMRebooting || prior == compute.VMError || prior == compute.VMMissing || prior == "" {
		prior = compute.VMRunning
	}
	if prior == compute.VMStopping {
		prior = compute.VMStopped
	}
	if err := tx.Model(&compute.VM{}).Where("id = ?", vm.ID).Updates(map[string]any{
		"state": compute.VMStarting, "prior_state": prior, "state_reason": "", "updated_at": now,
	}).Error; err != nil {
		return fmt.Errorf("move vm %s to starting: %w", vm.ID, err)
	}
	pool, err := imagePool(tx, vm.ImageID)
	if err != nil {
		return err
	}
	task := &compute.Task{ID: kit.NewID(), VMID: vm.ID, OwnerID: vm.OwnerID, Kind: compute.ActionFailover,
		Status: compute.TaskQueued, StartedBy: actor.Email, CreatedAt: now}
	if err := tx.Create(task).Error; err != nil {
		return fmt.Errorf("insert failover task of vm %s: %w", vm.ID, err)
	}
	f := FailoverRecord{ID: kit.NewID(), VMID: vm.ID, TaskID: task.ID, Epoch: h.FailoverEpoch, FromHostID: h.ID,
		ToHostID: *c.ReplicaHostID, Pool: pool, OldVolume: vm.DiskVolume(), CopyVolume: vm.DiskVolume(),
		NewVolume: compute.DiskVolumeOf(vm.DomainName(), vm.DiskGeneration+1), DiskGeneration: vm.DiskGeneration + 1,
		LastGoodAt: *c.LastGoodAt, PriorState: prior, FencedAt: *h.FencedAt, CreatedAt: now}
	if err := tx.Create(&f).Error; err != nil {
		return fmt.Errorf("insert failover of vm %s: %w", vm.ID, err)
	}
	// No replication run may touch the copy from now on; CompleteFailover
	// gives the lease back.
	if err := tx.Model(&Replica{}).Where("vm_id = ?", vm.ID).
		Updates(map[string]any{"running_run_id": "failover-" + f.ID, "running_since": now, "running_job_id": 0, "updated_at": now}).Error; err != nil {
		return fmt.Errorf("hold replication of vm %s: %w", vm.ID, err)
	}
	job, err := kit.Enqueue(ctx, r.queue, tx, jobargs.ReplicationFailover{
		VMTask: jobargs.VMTask{VMID: vm.ID, TaskID: task.ID}, FailoverID: f.ID, FromHostID: h.ID, ToHostID: f.ToHostID,
	}, &river.InsertOpts{MaxAttempts: 5})
	if err != nil {
		return err
	}
	if err := tx.Model(&compute.Task{}).Where("id = ?", task.ID).Update("river_job_id", job.ID).Error; err != nil {
		return fmt.Errorf("store job id on task %s: %w", task.ID, err)
	}
	return kit.RecordAudit(tx, actor, "vm.failover", "vm", vm.ID, map[string]any{
		"task_id": task.ID, "from": h.Name, "to": c.Standby(), "last_good_at": f.LastGoodAt,
		"data_loss_window_seconds": int64(f.DataLossWindow().Seconds()), "confirmed_by": actor.Email, "method": h.FenceMethod})
}

// FailoverSpec is what the failover job needs.
type FailoverSpec struct {
	FailoverRecord
	VMHostID   string // where the VM is now: FromHostID until the move is recorded
	FromFenced bool
	ToHostName string
}

// Done reports whether the move was recorded already.
func (s *FailoverSpec) Done() bool { return s.VMHostID == s.ToHostID && s.FinishedAt != nil }

// FailoverJob reads a move for its job.
func (r *Replicas) FailoverJob(ctx context.Context, failoverID string) (*FailoverSpec, error) {
	db := r.db.Gorm.WithContext(ctx)
	s := &FailoverSpec{}
	if err := kit.First(db, &s.FailoverRecord, failoverID, "failover"); err != nil {
		return nil, err
	}
	var vm compute.VM
	if err := kit.First(db, &vm, s.VMID, "virtual machine"); err != nil {
		return nil, err
	}
	s.VMHostID = vm.HostID
	var from, to compute.Host
	if err := kit.First(db, &from, s.FromHostID, "host"); err != nil {
		return nil, err
	}
	if err := kit.First(db, &to, s.ToHostID, "host"); err != nil {
		return nil, err
	}
	s.FromFenced, s.ToHostName = from.Fenced() && from.FailoverEpoch == s.Epoch, to.Name
	s.LastGoodAt, s.FencedAt = s.LastGoodAt.UTC(), s.FencedAt.UTC()
	return s, nil
}

// CompleteFailover records that the VM runs (or, if it was stopped, is
// defined) on its new host: host and disk generation change, the old host
// becomes its replica host with no copy yet (the next run, once that host
// is back, is a full one), and the task log and audit log say how much
// may have been lost. It is idempotent.
func (r *Replicas) CompleteFailover(ctx context.Context, failoverID string, state compute.VMState) error {
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		var f FailoverRecord
		if err := kit.First(kit.ForUpdate(tx), &f, failoverID, "failover"); err != nil {
			return err
		}
		if f.FinishedAt != nil {
			return nil
		}
		now := r.now()
		res := tx.Model(&compute.VM{}).Where("id = ? AND host_id = ?", f.VMID, f.FromHostID).Updates(map[string]any{
			"host_id": f.ToHostID, "disk_generation": f.DiskGeneration, "state": state, "prior_state": "",
			"state_reason": "", "stopped_unexpectedly_at": nil, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("move vm %s: %w", f.VMID, res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("move vm %s: it is no longer on host %s", f.VMID, f.FromHostID)
		}
		if err := tx.Model(&Replica{}).Where("vm_id = ?", f.VMID).Updates(map[string]any{
			"replica_host_id": f.FromHostID, "state": StateNone, "last_good_at": nil, "last_good_checkpoint": "",
			"last_error": "", "consecutive_failures": 0, "copy_dirty": false, "apply_run_id": "", "running_run_id": "", "running_since": nil, "running_job_id": 0,
			"lagging_since": nil, "next_run_at": now, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("point replica of vm %s at host %s: %w", f.VMID, f.FromHostID, err)
		}
		if err := tx.Model(&FailoverRecord{}).Where("id = ?", f.ID).Update("finished_at", now).Error; err != nil {
			return fmt.Errorf("finish failover %s: %w", f.ID, err)
		}
		return kit.RecordAudit(tx, models.SystemActor("replication.failover"), "vm.failed_over", "vm", f.VMID, map[string]any{
			"task_id": f.TaskID, "from_host_id": f.FromHostID, "to_host_id": f.ToHostID, "disk": f.NewVolume,
			"state": state, "last_good_at": f.LastGoodAt, "data_loss_window_seconds": int64(f.DataLossWindow().Seconds())})
	})
}
