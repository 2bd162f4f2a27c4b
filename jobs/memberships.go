package jobs

import (
	"context"

	"github.com/riverqueue/river"

	"allmende/jobs/jobargs"
)

// MembershipDaily is what the daily job needs from models.Memberships.
type MembershipDaily interface {
	ProcessDueNotices(ctx context.Context) (int, error)
	PurgeExpired(ctx context.Context) (int, error)
}

// ProcessMembershipsWorker runs the daily membership upkeep. Both steps
// are idempotent, so a retry after a crash does no harm.
type ProcessMembershipsWorker struct {
	river.WorkerDefaults[jobargs.ProcessMemberships]
	memberships MembershipDaily
}

func (w *ProcessMembershipsWorker) Work(ctx context.Context, _ *river.Job[jobargs.ProcessMemberships]) error {
	if _, err := w.memberships.ProcessDueNotices(ctx); err != nil {
		return err
	}
	_, err := w.memberships.PurgeExpired(ctx)
	return err
}
