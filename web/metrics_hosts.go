package web

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"allmende/models/compute"
	"allmende/models/metering"
)

// hostMetricsCollector exposes each host's latest sample (models/metering)
// at scrape time. Labels are the host's name and a fixed direction or kind:
// the series grow with the hosts, never with VMs or members, so an existing
// Prometheus can scrape a host with a thousand guests without a thousand
// series per metric. Per-VM graphs live in the portal.
type hostMetricsCollector struct {
	hosts   *compute.Hosts
	metrics *metering.Metrics
}

var (
	hostCPUDesc = prometheus.NewDesc("allmende_host_cpu_used_cores",
		"CPU cores in use on the host (mean since the previous collection).", []string{"host"}, nil)
	hostMemDesc = prometheus.NewDesc("allmende_host_memory_used_bytes",
		"Host memory in use (total minus free, buffers and cache).", []string{"host"}, nil)
	hostDiskDesc = prometheus.NewDesc("allmende_host_disk_used_bytes",
		"Bytes allocated in the host's active storage pools.", []string{"host"}, nil)
	hostVMDiskDesc = prometheus.NewDesc("allmende_host_vm_disk_bytes_per_second",
		"Disk traffic of all VMs on the host.", []string{"host", "direction"}, nil)
	hostVMNetDesc = prometheus.NewDesc("allmende_host_vm_network_bytes_per_second",
		"Network traffic of all VMs on the host.", []string{"host", "direction"}, nil)
	hostSampleAgeDesc = prometheus.NewDesc("allmende_host_metrics_age_seconds",
		"Seconds since the host's last metrics sample.", []string{"host"}, nil)
)

func (h *hostMetricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{hostCPUDesc, hostMemDesc, hostDiskDesc, hostVMDiskDesc, hostVMNetDesc, hostSampleAgeDesc} {
		ch <- d
	}
}

func (h *hostMetricsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hosts, err := h.hosts.List(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(hostCPUDesc, err)
		return
	}
	now := time.Now()
	latest, err := h.metrics.HostsNow(ctx, now, time.Hour)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(hostCPUDesc, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, host := range hosts {
		s, ok := latest[host.ID]
		if !ok {
			continue
		}
		gauge(hostCPUDesc, float64(s.CPU)/1000, host.Name)
		gauge(hostMemDesc, float64(s.Mem), host.Name)
		gauge(hostDiskDesc, float64(s.Disk), host.Name)
		gauge(hostVMDiskDesc, float64(s.Rd), host.Name, "read")
		gauge(hostVMDiskDesc, float64(s.Wr), host.Name, "write")
		gauge(hostVMNetDesc, float64(s.Rx), host.Name, "receive")
		gauge(hostVMNetDesc, float64(s.Tx), host.Name, "transmit")
		gauge(hostSampleAgeDesc, now.Sub(s.At).Seconds(), host.Name)
	}
}
