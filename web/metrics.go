package web

import (
	"context"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"allmende/jobs"
	"allmende/models"
	"allmende/models/compute"
	"allmende/models/metering"
	"allmende/models/replication"
)

// metrics owns the portal's Prometheus registry; it is not the global
// default registry, so several servers (as in tests) never collide.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(db *models.DB, replicas *replication.Replicas, hosts *compute.Hosts, series *metering.Metrics) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allmende_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "allmende_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	m.registry.MustRegister(m.requests, m.latency, &jobCollector{db: db}, &replicationCollector{replicas: replicas},
		&hostMetricsCollector{hosts: hosts, metrics: series},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// middleware records every request under its route pattern (not the raw
// path, which would make one series per VM id).
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // let the error handler set the final status first
		}
		route := c.Path()
		if route == "" || route == "/*" {
			route = "unmatched"
		}
		method := c.Request().Method
		m.requests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
		m.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

// jobCollector reads River's job counts by state at scrape time.
type jobCollector struct{ db *models.DB }

var jobsDesc = prometheus.NewDesc("allmende_jobs", "Background jobs by River state.", []string{"state"}, nil)

func (j *jobCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (j *jobCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := jobs.CountByState(ctx, j.db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		return
	}
	for _, state := range []string{"available", "cancelled", "completed", "discarded", "pending", "retryable", "running", "scheduled"} {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(counts[state]), state)
	}
}

// replicationCollector reads every replicated VM's data-loss window at
// scrape time; a VM is labelled by its id (names repeat across members).
type replicationCollector struct{ replicas *replication.Replicas }

var (
	replicationLagDesc = prometheus.NewDesc("allmende_replication_lag_seconds",
		"Seconds since the moment the VM's last good standby copy holds (the data-loss window).", []string{"vm"}, nil)
	replicationLaggingDesc = prometheus.NewDesc("allmende_replication_lagging",
		"Replicated VMs whose last good copy is older than twice their interval.", nil, nil)
)

func (r *replicationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- replicationLagDesc
	ch <- replicationLaggingDesc
}

func (r *replicationCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	lags, err := r.replicas.Lags(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(replicationLagDesc, err)
		return
	}
	lagging := 0
	for _, s := range lags {
		ch <- prometheus.MustNewConstMetric(replicationLagDesc, prometheus.GaugeValue, s.Lag.Seconds(), s.VMID)
		if s.Lagging() {
			lagging++
		}
	}
	ch <- prometheus.MustNewConstMetric(replicationLaggingDesc, prometheus.GaugeValue, float64(lagging))
}
