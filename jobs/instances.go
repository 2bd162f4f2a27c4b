package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertype"

	"allmende/models"
)

// Instance leases: how portals sharing a PostgreSQL job queue notice within
// seconds that one of them died (kill -9, power loss, lost network) and take
// up its jobs, instead of waiting rescueStuckJobsAfter for River's rescuer,
// while one VM's job never runs twice at once.
//
// Every working portal is an instance with an ID, which is also its River
// client ID, so a job's last river_job.attempted_by entry names the instance
// working it. The instance writes a heartbeat into worker_instances every
// Heartbeat, with the database's clock. Every instance looks every Sweep for
// other instances whose heartbeat is older than DeadAfter (the database's
// clock again, so clock skew between machines does not matter) and, in one
// transaction that locks their rows (FOR UPDATE SKIP LOCKED, so two
// survivors never both act, and a heartbeat being written is never swept),
// hands their running jobs back to the queue through River's own rescue
// (JobRescueMany, as ClaimQueue does on SQLite) and deletes their rows.
//
// No overlap. An instance holds its lease until Fence after it *sent* its
// last successful heartbeat (its monotonic clock). When the lease lapses it
// cancels the contexts of its running jobs (every libvirt call and query
// honours them) and starts no job until its heartbeat is written again. Let
// t0 be the send time of the last heartbeat that was written: the database
// stamped it no earlier than t0, so no sweeper can find it stale before
// t0+DeadAfter, and the sweep that acts starts its transaction then or up to
// one Sweep later. The instance's own jobs were cancelled at t0+Fence. So a
// worker has DeadAfter-Fence (5 s) to return after its context is cancelled
// before anyone else may run its job; that margin does not depend on the
// sweep period, which only adds to the hand-back delay (a dead instance's
// jobs run again DeadAfter-Heartbeat..DeadAfter+Sweep after the death, plus
// River's fetch poll of 1 s). A heartbeat whose answer is slow still counts
// from its send time, and one that times out counts as not written.
//
// Reporting. River records a job's outcome with "UPDATE ... WHERE state =
// 'running'", which does not say whose run it is: a late write from a fenced
// instance could overwrite the state of the run a survivor took over. So an
// attempt that ended while the lease had lapsed is reported only once the
// lease is renewed without the instance having been declared dead (its row
// still there, so nobody handed its jobs back). If the instance learns that
// it was declared dead (its heartbeat finds no row), its jobs of that
// registration were handed back: their attempts are never reported (the
// goroutine waits for the process to end; River's rescuer takes any such job
// that nobody handed back), and the instance registers anew for new jobs.
//
// Second line of defence: a VM has at most one open task (partial unique
// index), tasks.Start refuses a finished task, and every worker is
// idempotent, so even a job run again after all (a process frozen for longer
// than DeadAfter that wakes up acts until its fence timer fires; a report
// delayed past DeadAfter by a database outage) finishes the VM's task once.
//
// On SQLite none of this runs: one process works the queue under a file lock
// and hands back at start-up what a dead predecessor left (ClaimQueue).

// leaseTiming are the intervals of the lease; see above for why Fence must
// stay clearly below DeadAfter.
type leaseTiming struct {
	Heartbeat time.Duration // how often an instance writes its heartbeat
	Fence     time.Duration // after the last heartbeat sent, the instance stops its jobs
	DeadAfter time.Duration // a heartbeat this old (database clock) means the instance is dead
	Sweep     time.Duration // how often each instance looks for dead ones
}

var defaultLeaseTiming = leaseTiming{
	Heartbeat: 2 * time.Second,
	Fence:     5 * time.Second,
	DeadAfter: 10 * time.Second,
	Sweep:     2 * time.Second,
}

// errLeaseLapsed is the cause of a job context cancelled by the fence.
var errLeaseLapsed = errors.New("this portal instance could not write its heartbeat in time; stopping its jobs before another instance takes them over")

// leaseStore is the lease's database side; tests fake it.
type leaseStore interface {
	register(ctx context.Context, id, host string, pid int) error
	// beat writes the heartbeat; false means the row is gone: another
	// instance declared this one dead and handed its jobs back.
	beat(ctx context.Context, id string) (bool, error)
	// sweep hands back the running jobs of instances other than self whose
	// heartbeat is older than deadAfter and deletes their rows.
	sweep(ctx context.Context, self string, deadAfter time.Duration) (map[string]int, error)
	remove(ctx context.Context, id string) error
}

// Lease is this process's membership among the instances working the
// queue. A nil Lease (SQLite) does nothing.
type Lease struct {
	id     string
	host   string
	store  leaseStore
	log    *slog.Logger
	timing leaseTiming

	mu        sync.Mutex
	epoch     int                     // registrations so far: a new one after being declared dead
	period    context.Context         // the current valid period; nil while lapsed
	endPeriod context.CancelCauseFunc // ends period
	validTill time.Time               // monotonic
	fence     *time.Timer
	changed   chan struct{} // closed and replaced on every change of the above
	stop      context.CancelFunc
	done      sync.WaitGroup
}

// NewLease returns the lease of this process on a PostgreSQL queue, nil on
// SQLite. Its ID is the working River client's ID; call Start before the
// client starts and Close after it stopped.
func NewLease(db *models.DB, log *slog.Logger) *Lease {
	if db.Dialect != models.Postgres {
		return nil
	}
	return newLease(&pgLeaseStore{db: db.SQL, driver: riverdatabasesql.New(db.SQL)}, log, defaultLeaseTiming)
}

func newLease(store leaseStore, log *slog.Logger, timing leaseTiming) *Lease {
	host, _ := os.Hostname()
	if len(host) > 60 {
		host = host[:60]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &Lease{
		id:      fmt.Sprintf("%s_%d_%s", host, os.Getpid(), hex.EncodeToString(b)), // River allows 100 bytes
		host:    host,
		store:   store,
		log:     log,
		timing:  timing,
		changed: make(chan struct{}),
	}
}

// ID is the instance's ID and River client ID; "" lets River choose.
func (l *Lease) ID() string {
	if l == nil {
		return ""
	}
	return l.id
}

// Start registers the instance and starts its heartbeats and sweeps.
func (l *Lease) Start(ctx context.Context) error {
	if l == nil {
		return nil
	}
	sent := time.Now()
	if err := l.store.register(ctx, l.id, l.host, os.Getpid()); err != nil {
		return fmt.Errorf("register job instance %s: %w", l.id, err)
	}
	l.renew(sent)
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop = stop
	l.done.Add(2)
	go l.heartbeats(lctx)
	go l.sweeps(lctx)
	l.log.Info("job instance registered", "instance", l.id)
	return nil
}

// Close stops the heartbeats and sweeps. With deregister, which the caller
// passes when River stopped with every job finished or handed back, the
// instance's row is removed; otherwise the others take its jobs over once
// its heartbeat is stale (and its fence stops them first).
func (l *Lease) Close(ctx context.Context, deregister bool) error {
	if l == nil || l.stop == nil {
		return nil
	}
	l.stop()
	l.done.Wait()
	if !deregister {
		return nil
	}
	if err := l.store.remove(ctx, l.id); err != nil {
		return fmt.Errorf("deregister job instance %s: %w", l.id, err)
	}
	return nil
}

func (l *Lease) heartbeats(ctx context.Context) {
	defer l.done.Done()
	t := time.NewTicker(l.timing.Heartbeat)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		bctx, cancel := context.WithTimeout(ctx, l.timing.Fence)
		alive, err := l.store.beat(bctx, l.id)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if !failing {
				l.log.Warn("job instance heartbeat failed", "instance", l.id, "err", err)
			}
			failing = true
		case alive:
			if failing {
				l.log.Info("job instance heartbeat written again", "instance", l.id)
			}
			failing = false
			l.renew(sent)
		default:
			l.declaredDead()
			sent = time.Now()
			if err := l.store.register(ctx, l.id, l.host, os.Getpid()); err != nil {
				l.log.Warn("job instance could not register again", "instance", l.id, "err", err)
				failing = true
				continue
			}
			failing = false
			l.renew(sent)
		}
	}
}

func (l *Lease) sweeps(ctx context.Context) {
	defer l.done.Done()
	t := time.NewTicker(l.timing.Sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		dead, err := l.store.sweep(ctx, l.id, l.timing.DeadAfter)
		if err != nil && ctx.Err() == nil {
			l.log.Warn("looking for dead job instances failed", "instance", l.id, "err", err)
		}
		for id, n := range dead {
			l.log.Warn("a job instance stopped heartbeating; handed back its running jobs", "dead_instance", id, "jobs", n)
		}
	}
}

// renew extends the lease to Fence after sent, the time the heartbeat just
// written was sent, and opens a new valid period if it had lapsed.
func (l *Lease) renew(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	till := sent.Add(l.timing.Fence)
	if !time.Now().Before(till) {
		return // written too late to count
	}
	l.validTill = till
	if l.period == nil {
		l.period, l.endPeriod = context.WithCancelCause(context.Background())
		l.broadcast()
	}
	if l.fence == nil {
		l.fence = time.AfterFunc(time.Until(till), l.checkFence)
	} else {
		l.fence.Reset(time.Until(till))
	}
}

// checkFence is the fence timer: past validTill the lease lapses.
func (l *Lease) checkFence() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.period == nil {
		return
	}
	if left := time.Until(l.validTill); left > 0 {
		l.fence.Reset(left)
		return
	}
	l.lapse()
	l.log.Error("job instance lease lapsed: no heartbeat written in time; cancelled its running jobs", "instance", l.id,
		"fence", l.timing.Fence)
}

// lapse ends the valid period; l.mu is held.
func (l *Lease) lapse() {
	if l.period != nil {
		l.endPeriod(errLeaseLapsed)
		l.period, l.endPeriod = nil, nil
		l.broadcast()
	}
}

// declaredDead starts a new registration: the jobs of the old one were
// handed back by another instance.
func (l *Lease) declaredDead() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lapse()
	l.epoch++
	l.broadcast()
	l.log.Error("another job instance declared this one dead and handed its running jobs back; registering again",
		"instance", l.id)
}

func (l *Lease) broadcast() {
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *Lease) state() (epoch int, period context.Context, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch, l.period, l.changed
}

// awaitValid waits for a valid period of registration epoch and returns it;
// nil when ctx ends first or the registration was lost.
func (l *Lease) awaitValid(ctx context.Context, epoch int) context.Context {
	for {
		e, period, changed := l.state()
		if e != epoch {
			return nil
		}
		if period != nil {
			return period
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// mayReport waits until an attempt begun under registration epoch may be
// reported to River: true under a valid period of that registration, false
// once it was lost.
func (l *Lease) mayReport(epoch int) bool {
	for {
		e, period, changed := l.state()
		if e != epoch {
			return false
		}
		if period != nil {
			return true
		}
		<-changed
	}
}

// leaseMiddleware runs a job only under a valid lease, cancels it when the
// lease lapses, and reports it only as described above.
type leaseMiddleware struct {
	river.MiddlewareDefaults
	l *Lease
}

func (l *Lease) middleware() rivertype.Middleware { return &leaseMiddleware{l: l} }

func (m *leaseMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	l := m.l
	epoch, _, _ := l.state()
	var err error
	if period := l.awaitValid(ctx, epoch); period != nil {
		jctx, cancel := context.WithCancelCause(ctx)
		stop := context.AfterFunc(period, func() { cancel(context.Cause(period)) })
		err = doInner(jctx)
		stop()
		cancel(nil)
	} else {
		err = fmt.Errorf("job not started: %w", errors.Join(errLeaseLapsed, context.Cause(ctx)))
	}
	if !l.mayReport(epoch) {
		l.log.Error("not reporting a job attempt: its instance registration was lost and the job handed back",
			"instance", l.id, "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "err", err)
		select {} // until the process ends; see "Reporting" above
	}
	return err
}

// pgLeaseStore keeps the leases in worker_instances on PostgreSQL. Times are
// the database's, in UTC, in a TIMESTAMP column.
type pgLeaseStore struct {
	db     *sql.DB
	driver *riverdatabasesql.Driver
}

const pgUTCNow = `(now() AT TIME ZONE 'UTC')`

func (s *pgLeaseStore) register(ctx context.Context, id, host string, pid int) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO worker_instances (id, host, pid, started_at, heartbeat_at)
		VALUES ($1, $2, $3, `+pgUTCNow+`, `+pgUTCNow+`)`, id, host, pid)
	return err
}

func (s *pgLeaseStore) beat(ctx context.Context, id string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE worker_instances SET heartbeat_at = `+pgUTCNow+` WHERE id = $1`, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (s *pgLeaseStore) remove(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM worker_instances WHERE id = $1`, id)
	return err
}

func (s *pgLeaseStore) sweep(ctx context.Context, self string, deadAfter time.Duration) (map[string]int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit a no-op
	// A row whose heartbeat is being written is locked and skipped; one
	// another survivor is sweeping likewise.
	rows, err := tx.QueryContext(ctx, `SELECT id FROM worker_instances
		WHERE id <> $1 AND heartbeat_at < `+pgUTCNow+` - $2 * INTERVAL '1 millisecond'
		FOR UPDATE SKIP LOCKED`, self, deadAfter.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("find dead instances: %w", err)
	}
	var dead []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		dead = append(dead, id)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if len(dead) == 0 {
		return nil, nil
	}
	rows, err = tx.QueryContext(ctx, `SELECT id, attempt, attempted_by[cardinality(attempted_by)] FROM river_job
		WHERE state = 'running' AND attempted_by[cardinality(attempted_by)] = ANY($1)`, dead)
	if err != nil {
		return nil, fmt.Errorf("find jobs of dead instances: %w", err)
	}
	var stuck []rescueJob
	handed := map[string]int{}
	for _, id := range dead {
		handed[id] = 0
	}
	for rows.Next() {
		var j rescueJob
		var by string
		if err := rows.Scan(&j.id, &j.attempt, &by); err != nil {
			rows.Close()
			return nil, err
		}
		j.why = fmt.Sprintf("the portal instance %s stopped heartbeating; handed back", by)
		stuck = append(stuck, j)
		handed[by]++
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if len(stuck) > 0 {
		if err := rescue(ctx, s.driver.UnwrapExecutor(tx), stuck); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM worker_instances WHERE id = ANY($1)`, dead); err != nil {
		return nil, fmt.Errorf("remove dead instances: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return handed, nil
}
