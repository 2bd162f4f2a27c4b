package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/metering"
)

// DefaultMetricsEvery is how often each host's statistics are read.
const DefaultMetricsEvery = 15 * time.Second

// StatsReader reads a host's and its running domains' counters in one
// bulk call (hypervisor.Manager.Stats).
type StatsReader interface {
	Stats(ctx context.Context, uri string) (hypervisor.HostStats, error)
}

// MetricsCollectAllWorker starts one collection job per host, so a slow or
// unreachable host delays only its own readings.
type MetricsCollectAllWorker struct {
	river.WorkerDefaults[jobargs.MetricsCollectAll]
	hosts *compute.Hosts
}

func (w *MetricsCollectAllWorker) Work(ctx context.Context, _ *river.Job[jobargs.MetricsCollectAll]) error {
	hosts, err := w.hosts.List(ctx)
	if err != nil {
		return err
	}
	var params []river.InsertManyParams
	for _, h := range hosts {
		if h.Fenced() || h.NotAnswering() {
			continue
		}
		params = append(params, river.InsertManyParams{Args: jobargs.MetricsCollect{HostID: h.ID}, InsertOpts: metricsOpts()})
	}
	if len(params) == 0 {
		return nil
	}
	client := river.ClientFromContext[*sql.Tx](ctx)
	if _, err := client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("queue metrics collection: %w", err)
	}
	return nil
}

// metricsOpts: one attempt (the next period brings a fresh reading) and at
// most one job per host waiting or running, so readings never pile up
// behind a slow host.
func metricsOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// MetricsCollectWorker reads one host in one bulk libvirt call and stores
// the rates. Reading has no side effects.
type MetricsCollectWorker struct {
	river.WorkerDefaults[jobargs.MetricsCollect]
	hosts   *compute.Hosts
	metrics *metering.Metrics
	stats   StatsReader
}

func (w *MetricsCollectWorker) Timeout(*river.Job[jobargs.MetricsCollect]) time.Duration {
	return 30 * time.Second
}

func (w *MetricsCollectWorker) Work(ctx context.Context, job *river.Job[jobargs.MetricsCollect]) error {
	host, err := w.hosts.Get(ctx, job.Args.HostID)
	if models.IsNotFound(err) {
		return river.JobCancel(fmt.Errorf("host %s no longer exists", job.Args.HostID))
	}
	if err != nil {
		return err
	}
	_, err = CollectHost(ctx, w.stats, w.metrics, host)
	return err
}

// CollectHost is one collection: read, convert, store. It returns the
// number of VM samples stored (benchmarks call it directly).
func CollectHost(ctx context.Context, stats StatsReader, m *metering.Metrics, host *compute.Host) (int, error) {
	st, err := stats.Stats(ctx, host.URI)
	if err != nil {
		return 0, fmt.Errorf("read statistics of %s: %w", host.Name, err)
	}
	return m.Record(ctx, host.ID, Reading(st))
}

// Reading converts the hypervisor's counters into the metering domain's,
// keeping only the portal's domains ("allmende-<vm id>").
func Reading(st hypervisor.HostStats) metering.Reading {
	r := metering.Reading{At: st.At, HostCPUTimeNs: st.CPUTimeNs, HostMemoryBytes: st.MemoryBytes, HostFreeBytes: st.MemoryFreeBytes,
		VMs: make([]metering.VMReading, 0, len(st.Domains))}
	for _, p := range st.Pools {
		if p.Active {
			r.HostDiskUsedBytes += p.AllocationBytes
		}
	}
	for _, d := range st.Domains {
		id, ok := strings.CutPrefix(d.Name, domainPrefix)
		if !ok {
			continue
		}
		mem := d.RSSBytes
		if mem == 0 {
			mem = d.BalloonBytes
		}
		r.VMs = append(r.VMs, metering.VMReading{VMID: id, CPUTimeNs: d.CPUTimeNs, MemoryBytes: mem, DiskBytes: d.DiskAllocationBytes,
			ReadBytes: d.ReadBytes, WriteBytes: d.WriteBytes, RxBytes: d.RxBytes, TxBytes: d.TxBytes})
	}
	return r
}

// MetricsRollupWorker runs metering's rollup and pruning.
type MetricsRollupWorker struct {
	river.WorkerDefaults[jobargs.MetricsRollup]
	metrics *metering.Metrics
}

func (w *MetricsRollupWorker) Timeout(*river.Job[jobargs.MetricsRollup]) time.Duration {
	return 2 * time.Minute
}

func (w *MetricsRollupWorker) Work(ctx context.Context, _ *river.Job[jobargs.MetricsRollup]) error {
	return w.metrics.Rollup(ctx, time.Now())
}

// metricsJobs registers the metrics workers and returns their periodic jobs.
func metricsJobs(workers *river.Workers, deps Deps) []*river.PeriodicJob {
	var periodic []*river.PeriodicJob
	if deps.Commons != nil {
		river.AddWorker(workers, &StatementsCloseWorker{commons: deps.Commons})
		// Hourly: idempotent and cheap; a portal that was down at the turn
		// of the month closes it within the hour of coming back.
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.StatementsClose{}, scheduleOpts() },
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	stats, ok := deps.Hypervisor.(StatsReader)
	if deps.Metrics == nil || !ok {
		return periodic
	}
	every := deps.MetricsEvery
	if every <= 0 {
		every = DefaultMetricsEvery
	}
	river.AddWorker(workers, &MetricsCollectAllWorker{hosts: deps.Hosts})
	river.AddWorker(workers, &MetricsCollectWorker{hosts: deps.Hosts, metrics: deps.Metrics, stats: stats})
	river.AddWorker(workers, &MetricsRollupWorker{metrics: deps.Metrics})
	return append(periodic,
		river.NewPeriodicJob(river.PeriodicInterval(every),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.MetricsCollectAll{}, scheduleOpts() },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.MetricsRollup{}, scheduleOpts() },
			&river.PeriodicJobOpts{RunOnStart: true}))
}

// StatementsCloseWorker closes the month that ended (metering.CloseDue).
type StatementsCloseWorker struct {
	river.WorkerDefaults[jobargs.StatementsClose]
	commons *metering.Commons
}

func (w *StatementsCloseWorker) Timeout(*river.Job[jobargs.StatementsClose]) time.Duration {
	return time.Minute
}

func (w *StatementsCloseWorker) Work(ctx context.Context, _ *river.Job[jobargs.StatementsClose]) error {
	_, err := w.commons.CloseDue(ctx)
	return err
}
