package jobs

import (
	"context"

	"github.com/riverqueue/river"

	"allmende/jobs/jobargs"
)

// MembershipDaily is what the daily job needs from models.Memberships.
type MembershipDaily interface {
	ProcessDueNotices(ctx context.Context) (int, error)
	ProcessDueExclusions(ctx context.Context) (int, error)
	PurgeExpired(ctx context.Context) (int, error)
	SyncOrganRoles(ctx context.Context) (int, error)
}

// ProcessMembershipsWorker runs the membership upkeep (hourly). Every step
// is idempotent, so a retry after a crash does no harm. Roles of organs
// follow the terms after the notices, which may end seats with memberships.
type ProcessMembershipsWorker struct {
	river.WorkerDefaults[jobargs.ProcessMemberships]
	memberships MembershipDaily
}

func (w *ProcessMembershipsWorker) Work(ctx context.Context, _ *river.Job[jobargs.ProcessMemberships]) error {
	if _, err := w.memberships.ProcessDueNotices(ctx); err != nil {
		return err
	}
	if _, err := w.memberships.ProcessDueExclusions(ctx); err != nil {
		return err
	}
	if _, err := w.memberships.SyncOrganRoles(ctx); err != nil {
		return err
	}
	_, err := w.memberships.PurgeExpired(ctx)
	return err
}
