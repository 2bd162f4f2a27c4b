package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/digitalocean/go-libvirt"
)

// Throttle is what a moderation sanction limits on a VM: the disk's read
// and write rates (blkdeviotune) and the CPU time of each vCPU
// (schedinfo vcpu_period/vcpu_quota). Zero values mean no limit.
type Throttle struct {
	DiskBytesSec uint64 // for reads and for writes each
	CPUPercent   int    // of one host CPU per vCPU, 1..99
}

// cpuPeriod is the CFS period the quota is a share of (100 ms).
const cpuPeriod = 100000

// ErrNetworkThrottle is what a network limit answers on hosts whose
// kernel lacks the queueing disciplines libvirt's domiftune needs (no
// sch_sfq, no act_police: this machine's). It is reported, never faked.
const ErrNetworkThrottle = "network bandwidth limits are not supported on this host"

// ErrCPULimitUnsupported is SetThrottle's answer on a host whose libvirtd
// gives guests no cgroup CPU controller (a private daemon without
// DaemonOptions.CPUControl): the disk limits are set, the CPU limit is not.
var ErrCPULimitUnsupported = errors.New("CPU limits are not supported on this host (libvirt has no cgroup CPU controller)")

// SetThrottle sets (or, with the zero Throttle, clears) the limits on the
// domain's boot disk and vCPUs, live when the domain runs and in its
// persistent definition always, so they survive a restart of the VM and
// of the host. Setting the same limits again changes nothing.
func (m *Manager) SetThrottle(ctx context.Context, uri, name, disk string, t Throttle) error {
	return m.domainOp(ctx, uri, name, "throttle", false, func(l *libvirt.Libvirt, dom libvirt.Domain) error {
		flags := uint32(libvirt.DomainAffectConfig)
		active, err := domainActive(l, dom)
		if err != nil {
			return err
		}
		if active {
			flags |= uint32(libvirt.DomainAffectLive)
		}
		io := []libvirt.TypedParam{
			{Field: "read_bytes_sec", Value: *libvirt.NewTypedParamValueUllong(t.DiskBytesSec)},
			{Field: "write_bytes_sec", Value: *libvirt.NewTypedParamValueUllong(t.DiskBytesSec)},
		}
		if err := l.DomainSetBlockIOTune(dom, disk, io, flags); err != nil {
			return fmt.Errorf("disk limits: %w", err)
		}
		// A quota of -1 (or 0 on newer libvirt) is "no limit"; the kernel
		// takes -1 everywhere.
		quota := int64(-1)
		if t.CPUPercent > 0 {
			quota = int64(cpuPeriod * t.CPUPercent / 100)
		}
		cpu := []libvirt.TypedParam{
			{Field: "vcpu_period", Value: *libvirt.NewTypedParamValueUllong(cpuPeriod)},
			{Field: "vcpu_quota", Value: *libvirt.NewTypedParamValueLlong(quota)},
		}
		if err := l.DomainSetSchedulerParametersFlags(dom, cpu, flags); err != nil {
			if strings.Contains(err.Error(), "controller is not mounted") {
				return ErrCPULimitUnsupported
			}
			return fmt.Errorf("cpu limits: %w", err)
		}
		return nil
	})
}

// ReadThrottle reads back the limits in force on the running domain (or
// in its definition when it is shut off), as virsh blkdeviotune and
// schedinfo show them.
func (m *Manager) ReadThrottle(ctx context.Context, uri, name, disk string) (Throttle, error) {
	var out Throttle
	err := m.domainOp(ctx, uri, name, "read throttle of", false, func(l *libvirt.Libvirt, dom libvirt.Domain) error {
		flags := uint32(libvirt.DomainAffectCurrent)
		_, n, err := l.DomainGetBlockIOTune(dom, libvirt.OptString{disk}, 0, flags)
		if err != nil {
			return fmt.Errorf("disk limits: %w", err)
		}
		io, _, err := l.DomainGetBlockIOTune(dom, libvirt.OptString{disk}, n, flags)
		if err != nil {
			return fmt.Errorf("disk limits: %w", err)
		}
		for _, p := range io {
			if p.Field == "write_bytes_sec" {
				out.DiskBytesSec, _ = p.Value.I.(uint64)
			}
		}
		_, np, err := l.DomainGetSchedulerType(dom)
		if err != nil && strings.Contains(err.Error(), "controller is not mounted") {
			return nil // no CPU limits on this host: none in force
		}
		if err != nil {
			return fmt.Errorf("scheduler: %w", err)
		}
		cpu, err := l.DomainGetSchedulerParametersFlags(dom, np, flags)
		if err != nil {
			return fmt.Errorf("cpu limits: %w", err)
		}
		var period uint64
		var quota int64
		for _, p := range cpu {
			switch p.Field {
			case "vcpu_period":
				period, _ = p.Value.I.(uint64)
			case "vcpu_quota":
				quota, _ = p.Value.I.(int64)
			}
		}
		if period > 0 && quota > 0 {
			out.CPUPercent = int(uint64(quota) * 100 / period)
		}
		return nil
	})
	return out, err
}
