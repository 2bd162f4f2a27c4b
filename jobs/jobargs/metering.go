package jobargs

// MetricsCollectAll is the periodic job that starts one MetricsCollect per host.
type MetricsCollectAll struct{}

func (MetricsCollectAll) Kind() string { return "metrics.collect_all" }

// MetricsCollect reads one host's and all its running VMs' statistics.
type MetricsCollect struct {
	HostID string `json:"host_id"`
}

func (MetricsCollect) Kind() string { return "metrics.collect" }

// MetricsRollup folds samples into the 5-minute and hourly series and
// drops what is past its retention.
type MetricsRollup struct{}

func (MetricsRollup) Kind() string { return "metrics.rollup" }

// StatementsClose closes the previous month's statements once it is over.
type StatementsClose struct{}

func (StatementsClose) Kind() string { return "statements.close" }
