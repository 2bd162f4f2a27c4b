package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"allmende/jobs/jobargs"
	"allmende/mail"
	"allmende/models"
)

// rivertest.NewWorker would need go.uber.org/goleak, which the module does
// not carry; the outcomes are checked on Work's result, and one test runs
// the worker in a real River client.

// fakeSender records messages and answers with err.
type fakeSender struct {
	mu   sync.Mutex
	sent []mail.Message
	err  error
}

func (f *fakeSender) Send(_ context.Context, m mail.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return f.err
}

func mailJob(id int64, args jobargs.SendMail) *river.Job[jobargs.SendMail] {
	return &river.Job[jobargs.SendMail]{JobRow: &rivertype.JobRow{ID: id, Kind: args.Kind()}, Args: args}
}

func TestSendMailWorker(t *testing.T) {
	args := jobargs.SendMail{To: "ada@example.org", Subject: "Aufnahme", Body: "Willkommen", Key: "admitted:1"}
	for _, tc := range []struct {
		name       string
		err        error
		wantErr    bool
		wantCancel bool
	}{
		{"delivered", nil, false, false},
		{"transient failure is retried", errors.New("421 try again later"), true, false},
		{"refused for good is cancelled", mail.ErrInvalidAddress, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sender := &fakeSender{err: tc.err}
			err := NewSendMailWorker(sender).Work(context.Background(), mailJob(7, args))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Work = %v, want error: %v", err, tc.wantErr)
			}
			var cancel *river.JobCancelError
			if got := errors.As(err, &cancel); got != tc.wantCancel {
				t.Errorf("Work = %v, want cancel: %v", err, tc.wantCancel)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("Work = %v, does not wrap %v", err, tc.err)
			}
			want := mail.Message{To: args.To, Subject: args.Subject, Body: args.Body, ID: args.Key}
			if len(sender.sent) != 1 || sender.sent[0] != want {
				t.Errorf("sent %+v, want %+v", sender.sent, want)
			}
		})
	}
}

func TestSendMailWorkerDefaultsIDToJob(t *testing.T) {
	sender := &fakeSender{}
	job := mailJob(42, jobargs.SendMail{To: "ada@example.org", Subject: "s", Body: "b"})
	if err := NewSendMailWorker(sender).Work(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if len(sender.sent) != 1 || sender.sent[0].ID != "job-42" {
		t.Errorf("sent %+v, want ID job-42", sender.sent)
	}
}

// TestSendMailThroughRiver inserts a job into a real River client on SQLite
// and waits for the outbox file: the arguments survive River's JSON round
// trip and the worker registers under its kind.
func TestSendMailThroughRiver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	db, err := models.Open(filepath.Join(dir, "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := Migrate(ctx, db, log); err != nil {
		t.Fatal(err)
	}
	outbox := mail.NewOutbox(filepath.Join(dir, "outbox"), "portal@allmende.test")
	workers := river.NewWorkers()
	river.AddWorker(workers, NewSendMailWorker(outbox))
	client, err := river.NewClient(driver(db), &river.Config{
		Logger:            riverLog(log),
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		FetchPollInterval: 50 * time.Millisecond,
		FetchCooldown:     10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	events, unsubscribe := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	defer unsubscribe()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(context.WithoutCancel(ctx))

	args := jobargs.SendMail{To: "ada@example.org", Subject: "Mitgliedschaft beendet", Body: "Tschüss", Key: "membership-ended:3"}
	if _, err := client.Insert(ctx, args, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Kind != river.EventKindJobCompleted {
			t.Fatalf("job ended as %s: %v", ev.Kind, ev.Job.Errors)
		}
	case <-ctx.Done():
		t.Fatal("job did not finish")
	}
	list, err := outbox.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Subject != args.Subject || list[0].To != "<ada@example.org>" {
		t.Fatalf("outbox %+v, want the one mail", list)
	}
}
