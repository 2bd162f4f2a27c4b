package compute

import (
	"allmende/i18n"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/internal/like"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// TaskStatus is where a task stands.
type TaskStatus string

const (
	TaskQueued    TaskStatus = "queued"
	TaskRunning   TaskStatus = "running"
	TaskSucceeded TaskStatus = "succeeded"
	TaskFailed    TaskStatus = "failed"
)

// Task is one action on a VM as its owner sees it in the task log: who
// started it, when it ran, how it ended, and its log lines. Tasks are
// history and are never deleted.
type Task struct {
	ID         string
	VMID       string `gorm:"column:vm_id"`
	OwnerID    string
	Kind       VMAction
	Status     TaskStatus
	StartedBy  string  // the actor's email
	RetryOf    *string // the failed task this one retries
	RiverJobID *int64
	Error      string // why it failed, in words
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// Active reports whether the task is still to be worked on.
func (t *Task) Active() bool { return t.Status == TaskQueued || t.Status == TaskRunning }

// TaskLine is one line of a task's log.
type TaskLine struct {
	ID     string
	TaskID string
	At     time.Time
	Line   string
}

// TaskDetail is a task with its log.
type TaskDetail struct {
	Task
	VMName string
	Lines  []TaskLine
}

// Tasks is the task log: members read their own, workers write it.
type Tasks struct {
	db    *models.DB
	queue models.Queue
}

func NewTasks(db *models.DB, queue models.Queue) *Tasks { return &Tasks{db: db, queue: queue} }

// TaskFilter narrows a task list.
type TaskFilter struct {
	VMID   string
	Query  string     // part of the VM's name or of who started the task
	Status TaskStatus // "" for any
	Kind   VMAction   // "" for any
	// Before is the id of the last task of the previous page (the API's
	// cursor); Offset skips that many tasks instead (the numbered pages).
	Before string
	Offset int
	Limit  int
}

// TaskStatuses and TaskKinds are the values a task list may be narrowed to.
var (
	TaskStatuses = []TaskStatus{TaskQueued, TaskRunning, TaskSucceeded, TaskFailed}
	TaskKinds    = []VMAction{ActionCreate, ActionReprovision, ActionStart, ActionShutdown, ActionPowerOff, ActionReboot,
		ActionResize, ActionDelete, ActionRestart, ActionFailover, ActionSwitchover}
)

// maxTaskQuery bounds the search text.
const maxTaskQuery = 100

// List returns the tasks the viewer may see, newest first. An unknown
// status or kind, or an overlong search, is a 400 naming the parameter.
func (s *Tasks) List(ctx context.Context, v models.Viewer, f TaskFilter) ([]Task, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	q, err := s.filtered(ctx, v, f)
	if err != nil {
		return nil, err
	}
	if f.Before != "" {
		q = q.Where("id < ?", f.Before)
	}
	var out []Task
	if err := q.Order("id DESC").Limit(f.Limit).Offset(max(f.Offset, 0)).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return out, nil
}

// Count is how many tasks match f on all its pages (Before, Offset and
// Limit aside).
func (s *Tasks) Count(ctx context.Context, v models.Viewer, f TaskFilter) (int, error) {
	q, err := s.filtered(ctx, v, f)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return int(n), nil
}

// filtered is the query of the tasks the viewer may see that match f's
// search.
func (s *Tasks) filtered(ctx context.Context, v models.Viewer, f TaskFilter) (*gorm.DB, error) {
	f.Query = strings.TrimSpace(f.Query)
	switch {
	case f.Status != "" && !slices.Contains(TaskStatuses, f.Status):
		return nil, models.BadQueryf("status", "Unknown status %q.", f.Status)
	case f.Kind != "" && !slices.Contains(TaskKinds, f.Kind):
		return nil, models.BadQueryf("kind", "Unknown kind of task %q.", f.Kind)
	case utf8.RuneCountInString(f.Query) > maxTaskQuery:
		return nil, models.BadQueryf("q", "Search for at most %d characters.", maxTaskQuery)
	}
	q := v.Scope(s.db.Gorm.WithContext(ctx).Model(&Task{}), "owner_id")
	if f.VMID != "" {
		q = q.Where("vm_id = ?", f.VMID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.Query != "" {
		// A subquery rather than a join: both tables have owner_id, which
		// the viewer's scope names unqualified. Deleted VMs stay in vms.
		pattern := "%" + like.Escape(strings.ToLower(f.Query)) + "%"
		q = q.Where(`(vm_id IN (SELECT id FROM vms WHERE LOWER(name) LIKE ? ESCAPE '\') OR LOWER(started_by) LIKE ? ESCAPE '\')`, pattern, pattern)
	}
	return q, nil
}

// Get returns a task with its log; another member's task is not found.
func (s *Tasks) Get(ctx context.Context, v models.Viewer, id string) (*TaskDetail, error) {
	db := s.db.Gorm.WithContext(ctx)
	var d TaskDetail
	if err := loadTask(db, v, id, &d.Task); err != nil {
		return nil, err
	}
	var names []string
	if err := db.Model(&VM{}).Where("id = ?", d.VMID).Pluck("name", &names).Error; err != nil {
		return nil, fmt.Errorf("load vm of task %s: %w", id, err)
	}
	if len(names) > 0 {
		d.VMName = names[0]
	}
	if err := db.Where("task_id = ?", id).Order("id").Find(&d.Lines).Error; err != nil {
		return nil, fmt.Errorf("load log of task %s: %w", id, err)
	}
	return &d, nil
}

func loadTask(tx *gorm.DB, v models.Viewer, id string, t *Task) error {
	err := tx.First(t, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !v.Owns(t.OwnerID)) {
		return models.NotFoundError("task")
	}
	if err != nil {
		return fmt.Errorf("load task %s: %w", id, err)
	}
	return nil
}

// Start records that a worker took up the task. A retried job calls it
// again; that is fine while the task is not finished.
func (s *Tasks) Start(ctx context.Context, taskID string) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		var t Task
		if err := kit.First(kit.ForUpdate(tx), &t, taskID, "task"); err != nil {
			return err
		}
		if !t.Active() {
			return models.Conflictf("Task %s has finished (%s).", taskID, t.Status)
		}
		set := map[string]any{"status": TaskRunning}
		if t.StartedAt == nil {
			set["started_at"] = kit.UTCNow()
		}
		if err := tx.Model(&Task{}).Where("id = ?", taskID).Updates(set).Error; err != nil {
			return fmt.Errorf("start task %s: %w", taskID, err)
		}
		return nil
	})
}

const maxLogLine = 4000

// Log appends a line to the task's log.
func (s *Tasks) Log(ctx context.Context, taskID, line string) error {
	return addTaskLine(s.db.Gorm.WithContext(ctx), taskID, line)
}

func addTaskLine(tx *gorm.DB, taskID, line string) error {
	l := TaskLine{ID: kit.NewID(), TaskID: taskID, At: kit.UTCNow(), Line: kit.Truncate(strings.TrimRight(line, "\n"), maxLogLine)}
	if err := tx.Create(&l).Error; err != nil {
		return fmt.Errorf("log to task %s: %w", taskID, err)
	}
	return nil
}

// Succeed records that the task is done. The worker sets the VM's new
// state itself (SetState, MarkDeleted). Succeeding twice is a no-op.
func (s *Tasks) Succeed(ctx context.Context, taskID string) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		var t Task
		if err := kit.First(kit.ForUpdate(tx), &t, taskID, "task"); err != nil {
			return err
		}
		switch t.Status {
		case TaskSucceeded:
			return nil
		case TaskFailed:
			return models.Conflictf("Task %s has failed already.", taskID)
		}
		return finishTask(tx, &t, TaskSucceeded, "")
	})
}

// Fail records why the task failed, in words, and adds the reason to its
// log. A VM still in the task's transitional state moves to error with the
// same reason, so that no VM is left waiting for a job that has given up.
// Call it when the job will not be retried.
func (s *Tasks) Fail(ctx context.Context, taskID string, cause error) error {
	if cause == nil {
		cause = errors.New("unknown error")
	}
	reason := readableError(cause)
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		var t Task
		if err := kit.First(kit.ForUpdate(tx), &t, taskID, "task"); err != nil {
			return err
		}
		if t.Status == TaskFailed {
			return nil
		}
		if t.Status == TaskSucceeded {
			return models.Conflictf("Task %s has succeeded already.", taskID)
		}
		if err := finishTask(tx, &t, TaskFailed, reason); err != nil {
			return err
		}
		if err := addTaskLine(tx, taskID, "failed: "+reason); err != nil {
			return err
		}
		if err := s.notifyFailed(ctx, tx, &t, reason); err != nil {
			return err
		}
		rule, ok := vmActions[t.Kind]
		if !ok {
			return nil
		}
		res := tx.Model(&VM{}).Where("id = ? AND state = ?", t.VMID, rule.to).
			Updates(map[string]any{"state": VMError, "state_reason": reason, "updated_at": kit.UTCNow()})
		if res.Error != nil {
			return fmt.Errorf("mark vm %s failed: %w", t.VMID, res.Error)
		}
		return nil
	})
}

// notifyFailed tells the owner that a task of theirs failed, in the
// portal and, if they want it, by mail.
func (s *Tasks) notifyFailed(ctx context.Context, tx *gorm.DB, t *Task, reason string) error {
	var names []string
	if err := tx.Table("vms").Where("id = ?", t.VMID).Pluck("name", &names).Error; err != nil {
		return fmt.Errorf("load name of vm %s: %w", t.VMID, err)
	}
	vmName := t.VMID
	if len(names) > 0 {
		vmName = names[0]
	}
	return account.NotifyAndMail(ctx, s.queue, tx, t.OwnerID, account.KindTasks, "/tasks/"+t.ID,
		models.Msgf("A task on your virtual machine %s failed: %s", vmName, reason),
		func(ctx context.Context, r account.Recipient) jobargs.SendMail {
			return mailTaskFailed(ctx, r, t, vmName, reason)
		})
}

// mailTaskFailed is the optional mail about a failed task.
func mailTaskFailed(ctx context.Context, r account.Recipient, t *Task, vmName, reason string) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "task.failed:" + t.ID,
		Subject: i18n.T(ctx, "A task on your virtual machine %s failed", vmName),
		Body: i18n.T(ctx, "Hello %s,\n\na task on your virtual machine %s failed: %s\n\n"+
			"The task log in the portal shows what happened; you can retry it there or ask the administrators.\n\n"+
			"You get this mail because you chose failed tasks by mail on your account page.\n", r.Name, vmName, reason),
	}
}

func finishTask(tx *gorm.DB, t *Task, status TaskStatus, reason string) error {
	now := kit.UTCNow()
	set := map[string]any{"status": status, "finished_at": now, "error": reason}
	if t.StartedAt == nil {
		set["started_at"] = now
	}
	if err := tx.Model(&Task{}).Where("id = ?", t.ID).Updates(set).Error; err != nil {
		return fmt.Errorf("finish task %s: %w", t.ID, err)
	}
	return nil
}

// Retryable reports whether a retry can sensibly run this task again: a
// failed create, reprovision, start or delete. Other actions are better
// asked for afresh (another shutdown, reboot or resize).
func (t *Task) Retryable() bool {
	if t.Status != TaskFailed {
		return false
	}
	switch t.Kind {
	case ActionCreate, ActionReprovision, ActionStart, ActionDelete:
		return true
	}
	return false
}

// FailAbandoned fails open tasks whose River job has ended (completed,
// cancelled or discarded) without the worker recording an outcome, so that
// no VM waits forever for a job that is gone. It returns how many it failed.
func (s *Tasks) FailAbandoned(ctx context.Context) (int, error) {
	var ids []string
	err := s.db.Gorm.WithContext(ctx).Raw(`SELECT t.id FROM tasks t JOIN river_job j ON j.id = t.river_job_id
		WHERE t.status IN (?, ?) AND j.state IN ('completed', 'cancelled', 'discarded')`, TaskQueued, TaskRunning).
		Scan(&ids).Error
	if err != nil {
		return 0, fmt.Errorf("find abandoned tasks: %w", err)
	}
	var errs []error
	for _, id := range ids {
		cause := &models.Error{Safe: "the background job gave up without finishing the task; please try again"}
		if err := s.Fail(ctx, id, cause); err != nil {
			errs = append(errs, fmt.Errorf("fail abandoned task %s: %w", id, err))
		}
	}
	return len(ids), errors.Join(errs...)
}

// Retry runs a failed task again as a new task (the failed one stays in
// the history), moving the VM into the task's transitional state and
// enqueueing the job in one transaction.
func (s *Tasks) Retry(ctx context.Context, actor models.Actor, v models.Viewer, taskID string) (*Task, error) {
	var next *Task
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var t Task
		if err := loadTask(tx, v, taskID, &t); err != nil {
			return err
		}
		if t.Status != TaskFailed {
			return models.Conflict("Only a failed task can be retried.")
		}
		if !t.Retryable() {
			return models.Conflictf("A failed %s cannot be retried; ask for it again instead.", t.Kind)
		}
		vm, err := loadVM(tx, v, t.VMID)
		if err != nil {
			return err
		}
		next, err = beginActionTx(ctx, tx, s.queue, actor, vm, t.Kind, &t.ID, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}
