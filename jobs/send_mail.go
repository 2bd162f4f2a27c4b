package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"allmende/jobs/jobargs"
	"allmende/mail"
)

// SendMailWorker delivers one mail through the configured sender (SMTP or
// the outbox).
//
// A retry after a send whose success went unnoticed (connection lost after
// the server took the message) can deliver twice; the message ID stays the
// same, so the duplicate carries the same Message-ID and the outbox keeps
// one file.
type SendMailWorker struct {
	river.WorkerDefaults[jobargs.SendMail]
	sender mail.Sender
}

// NewSendMailWorker returns a worker that sends through s.
func NewSendMailWorker(s mail.Sender) *SendMailWorker {
	return &SendMailWorker{sender: s}
}

// Timeout bounds one attempt; a slow server is retried later rather than
// holding a worker slot.
func (w *SendMailWorker) Timeout(*river.Job[jobargs.SendMail]) time.Duration {
	return 30 * time.Second
}

func (w *SendMailWorker) Work(ctx context.Context, job *river.Job[jobargs.SendMail]) error {
	id := job.Args.Key
	if id == "" {
		// The job ID is stable across retries of this job, which is all
		// the deduplication needs.
		id = fmt.Sprintf("job-%d", job.ID)
	}
	err := w.sender.Send(ctx, mail.Message{To: job.Args.To, Subject: job.Args.Subject, Body: job.Args.Body, ID: id})
	if mail.IsPermanent(err) {
		// Retrying a refused recipient for weeks only repeats the refusal.
		return river.JobCancel(fmt.Errorf("mail %s refused for good: %w", id, err))
	}
	if err != nil {
		// Anything else (server down, 4xx, timeouts) goes back to River's
		// backoff.
		return fmt.Errorf("mail %s: %w", id, err)
	}
	return nil
}
