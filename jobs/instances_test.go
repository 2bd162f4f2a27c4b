package jobs

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertype"

	"allmende/models"
)

// leaseTestArgs is a job the lease tests run.
type leaseTestArgs struct{}

func (leaseTestArgs) Kind() string { return "lease_test" }

// leaseTestWorker reports each attempt it begins and then works for hold,
// or until its context ends when hold is 0.
type leaseTestWorker struct {
	river.WorkerDefaults[leaseTestArgs]
	began func(job *rivertype.JobRow)
	hold  time.Duration
}

func (w *leaseTestWorker) Work(ctx context.Context, job *river.Job[leaseTestArgs]) error {
	w.began(job.JobRow)
	if w.hold == 0 {
		<-ctx.Done()
		return context.Cause(ctx)
	}
	select {
	case <-time.After(w.hold):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// openPostgresSchema opens a fresh, migrated schema of the database named
// by ALLMENDE_TEST_POSTGRES and returns it with its DSN.
func openPostgresSchema(t *testing.T) (*models.DB, string) {
	t.Helper()
	dsn := os.Getenv("ALLMENDE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("ALLMENDE_TEST_POSTGRES is not set")
	}
	admin, err := models.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.SQL.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := models.Open(dsn); err == nil {
			_, _ = a.SQL.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return openTestDB(t, u.String()), u.String()
}

// startInstance starts a working instance: a lease with timing and a River
// client running w.
func startInstance(t *testing.T, db *models.DB, log *slog.Logger, timing leaseTiming, w *leaseTestWorker) *Lease {
	t.Helper()
	l := newLease(&pgLeaseStore{db: db.SQL, driver: riverdatabasesql.New(db.SQL)}, log, timing)
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	c, err := river.NewClient(driver(db), &river.Config{ID: l.ID(), Middleware: []rivertype.Middleware{l.middleware()},
		Logger: riverLog(log), Workers: workers, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		RescueStuckJobsAfter: rescueStuckJobsAfter})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := c.StopAndCancel(sctx)
		if cerr := l.Close(sctx, err == nil); cerr != nil {
			t.Error(cerr)
		}
	})
	return l
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type jobState struct {
	state   string
	attempt int
	by      []string
	errors  string
}

func readJob(t *testing.T, db *models.DB, id int64) jobState {
	t.Helper()
	var s jobState
	var by string
	if err := db.SQL.QueryRow(`SELECT state, attempt, array_to_string(attempted_by, ','), COALESCE(array_to_string(errors, ','), '')
		FROM river_job WHERE id = $1`, id).Scan(&s.state, &s.attempt, &by, &s.errors); err != nil {
		t.Fatal(err)
	}
	s.by = strings.Split(by, ",")
	return s
}

// TestLeaseHelperInstance is instance A of TestLeaseDeadInstanceHandedBack,
// run as a child process so that it can be killed with SIGKILL; it does
// nothing as a test of its own.
func TestLeaseHelperInstance(t *testing.T) {
	dsn := os.Getenv("ALLMENDE_LEASE_HELPER_DSN")
	if dsn == "" {
		t.Skip("only as the child process of TestLeaseDeadInstanceHandedBack")
	}
	db, err := models.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	startInstance(t, db, quietLog(), defaultLeaseTiming, &leaseTestWorker{began: func(job *rivertype.JobRow) {
		fmt.Printf("working %d\n", job.ID)
	}})
	select {} // until killed
}

// A job whose instance dies (kill -9) is run by another instance within
// seconds, not after River's rescuer (rescueStuckJobsAfter, 2 minutes, plus
// its 30 s period); while its instance lives nobody else takes it.
func TestLeaseDeadInstanceHandedBack(t *testing.T) {
	db, dsn := openPostgresSchema(t)
	ctx := context.Background()
	q, err := NewInsertOnly(db, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.Insert(ctx, leaseTestArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobID := res.Job.ID

	// Instance A, a child process, takes the job and works on it.
	a := exec.Command(os.Args[0], "-test.run=^TestLeaseHelperInstance$", "-test.count=1")
	a.Env = append(os.Environ(), "ALLMENDE_LEASE_HELPER_DSN="+dsn)
	out, err := a.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a.Stderr = os.Stderr
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Process.Kill(); _ = a.Wait() })
	working := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "working ") {
				working <- sc.Text()
			}
		}
	}()
	select {
	case line := <-working:
		if line != fmt.Sprintf("working %d", jobID) {
			t.Fatalf("instance A: %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("instance A did not take the job")
	}

	// Instance B, here; it leaves the live A's job alone.
	began := make(chan *rivertype.JobRow, 4)
	startInstance(t, db, quietLog(), defaultLeaseTiming, &leaseTestWorker{hold: time.Second,
		began: func(job *rivertype.JobRow) { began <- job }})
	select {
	case job := <-began:
		t.Fatalf("instance B took the job of a live instance: attempt %d", job.Attempt)
	case <-time.After(2 * defaultLeaseTiming.Sweep):
	}

	if err := a.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var job *rivertype.JobRow
	select {
	case job = <-began:
	case <-time.After(60 * time.Second):
		t.Fatalf("instance B did not take over the job of the killed instance A within 60 s: %+v", readJob(t, db, jobID))
	}
	t.Logf("the job ran again on instance B %s after instance A was killed", time.Since(killed).Round(100*time.Millisecond))
	if job.ID != jobID || job.Attempt != 2 {
		t.Errorf("instance B ran job %d attempt %d", job.ID, job.Attempt)
	}
	if len(job.Errors) != 1 || !strings.Contains(job.Errors[0].Error, "stopped heartbeating; handed back") {
		t.Errorf("errors of the handed back job: %+v", job.Errors)
	}
	var n int
	if err := db.SQL.QueryRow(`SELECT COUNT(*) FROM worker_instances`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d instances registered, want only B", n)
	}
}

// A slow job of a live instance, running across many sweeps and for longer
// than the dead-after limit, is never taken by another instance.
func TestLeaseLiveInstanceKeepsItsJob(t *testing.T) {
	db, _ := openPostgresSchema(t)
	ctx := context.Background()
	timing := leaseTiming{Heartbeat: 250 * time.Millisecond, Fence: 1500 * time.Millisecond,
		DeadAfter: 3 * time.Second, Sweep: 300 * time.Millisecond}
	var runs atomic.Int32
	began := make(chan struct{}, 4)
	for range 2 {
		startInstance(t, db, quietLog(), timing, &leaseTestWorker{hold: 2*timing.DeadAfter + time.Second,
			began: func(*rivertype.JobRow) { runs.Add(1); began <- struct{}{} }})
	}
	q, err := NewInsertOnly(db, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.Insert(ctx, leaseTestArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-began
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := readJob(t, db, res.Job.ID)
		if s.state == string(rivertype.JobStateCompleted) {
			if s.attempt != 1 || len(s.by) != 1 || s.errors != "" {
				t.Errorf("completed job: %+v", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not completed: %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the job ran %d times", n)
	}
}

// fakeLeaseStore is a database that can fail and forget the instance.
type fakeLeaseStore struct {
	mu      sync.Mutex
	failing bool
	present bool
}

func (s *fakeLeaseStore) set(failing, present bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing, s.present = failing, present
}

func (s *fakeLeaseStore) register(context.Context, string, string, int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("connection refused")
	}
	s.present = true
	return nil
}

func (s *fakeLeaseStore) beat(context.Context, string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return false, errors.New("connection refused")
	}
	return s.present, nil
}

func (s *fakeLeaseStore) sweep(context.Context, string, time.Duration) (map[string]int, error) {
	return nil, nil
}

func (s *fakeLeaseStore) remove(context.Context, string) error { return nil }

// When the heartbeat cannot be written, the instance cancels its running
// jobs within the fence limit, starts no new one, and reports an attempt
// only once the lease is renewed; after it was declared dead it never
// reports the attempts of its old registration but works new jobs.
func TestLeaseFencesWithoutHeartbeat(t *testing.T) {
	store := &fakeLeaseStore{}
	timing := leaseTiming{Heartbeat: 50 * time.Millisecond, Fence: 300 * time.Millisecond, DeadAfter: time.Hour, Sweep: time.Hour}
	l := newLease(store, quietLog(), timing)
	ctx := context.Background()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(ctx, true) })
	m := l.middleware().(rivertype.WorkerMiddleware)

	type run struct {
		began, cancelled, done chan struct{}
		err                    error
	}
	work := func(id int64) *run {
		r := &run{began: make(chan struct{}), cancelled: make(chan struct{}), done: make(chan struct{})}
		go func() {
			defer close(r.done)
			r.err = m.Work(ctx, &rivertype.JobRow{ID: id, Kind: "lease_test"}, func(jctx context.Context) error {
				close(r.began)
				<-jctx.Done()
				close(r.cancelled)
				return context.Cause(jctx)
			})
		}()
		return r
	}
	within := func(c <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal(what)
		}
	}
	idle := func(what string, cs ...<-chan struct{}) {
		t.Helper()
		for _, c := range cs {
			select {
			case <-c:
				t.Fatal(what)
			case <-time.After(4 * timing.Heartbeat):
			}
		}
	}

	r1 := work(1)
	within(r1.began, "job 1 did not start")
	idle("job 1 cancelled under a valid lease", r1.cancelled)

	store.set(true, true) // the database fails
	within(r1.cancelled, "job 1 not cancelled after the fence limit")
	r2 := work(2)
	idle("job 2 started or job 1 reported while the lease had lapsed", r2.began, r1.done)

	store.set(false, true) // the database answers again
	within(r1.done, "job 1 not reported after the lease was renewed")
	if !errors.Is(r1.err, errLeaseLapsed) {
		t.Errorf("job 1 ended with %v", r1.err)
	}
	within(r2.began, "job 2 did not start after the lease was renewed")

	store.set(false, false) // another instance declared this one dead
	within(r2.cancelled, "job 2 not cancelled after the instance was declared dead")
	r3 := work(3)
	within(r3.began, "no new job started after registering again")
	idle("job 2 of the lost registration reported", r2.done)
}
