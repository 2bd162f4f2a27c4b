package hypervisor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// HostStats is one reading of a host and all its running domains: counters
// as libvirt keeps them (rates are the metering domain's business, which
// knows the previous reading).
type HostStats struct {
	At time.Time
	// CPUs is the number of logical CPUs; CPUTimeNs the host's busy CPU
	// time (kernel + user, all CPUs) since boot.
	CPUs      int
	CPUTimeNs uint64
	// MemoryBytes is the host's total memory, MemoryFreeBytes what is free
	// or reclaimable (free + buffers + cached).
	MemoryBytes, MemoryFreeBytes uint64
	Pools                        []Pool
	Domains                      []DomainStats
}

// DomainStats is one running domain's counters from the bulk call.
type DomainStats struct {
	Name string
	// CPUTimeNs is the guest's own CPU time: the sum of its vCPUs' times
	// (vcpu.N.time). libvirt's cpu.time also counts QEMU's emulator and I/O
	// threads, which under TCG with disk writes reach 110 % of one vCPU:
	// that is the host's overhead, not what the member's guest used. The
	// total is the fallback for drivers without vCPU times.
	CPUTimeNs uint64
	// BalloonBytes is the memory the guest has now (balloon.current);
	// RSSBytes what QEMU really holds on the host (balloon.rss), 0 if
	// libvirt does not say.
	BalloonBytes, RSSBytes uint64
	// Disks summed over the domain's block devices.
	ReadBytes, WriteBytes, ReadReqs, WriteReqs uint64
	// DiskAllocationBytes is what the disks take up on the host.
	DiskAllocationBytes uint64
	// Interfaces summed over the domain's network interfaces.
	RxBytes, TxBytes uint64
}

// domainStatsGroups is what the one bulk call asks for; perf, dirty rate
// and the rest are left out, they are the expensive groups.
const domainStatsGroups = libvirt.DomainStatsState | libvirt.DomainStatsCPUTotal | libvirt.DomainStatsVCPU |
	libvirt.DomainStatsBalloon | libvirt.DomainStatsInterface | libvirt.DomainStatsBlock

// Stats reads the host's counters and those of every running domain on it.
// The domains come from ONE ConnectGetAllDomainStats call, so a host with a
// thousand guests costs one round trip, not a thousand.
func (m *Manager) Stats(ctx context.Context, uri string) (HostStats, error) {
	st, err := call(ctx, m, uri, readStats)
	if err != nil {
		return HostStats{}, fmt.Errorf("statistics of %s: %w", uri, err)
	}
	return st, nil
}

func readStats(l *libvirt.Libvirt) (HostStats, error) {
	st := HostStats{At: time.Now().UTC()}
	// Active only: a shut-off domain has no counters, and asking for them
	// would make libvirt read every inactive definition.
	recs, err := l.ConnectGetAllDomainStats(nil, uint32(domainStatsGroups), uint32(libvirt.ConnectGetAllDomainsStatsActive))
	if err != nil {
		return st, fmt.Errorf("domain statistics: %w", err)
	}
	st.Domains = make([]DomainStats, 0, len(recs))
	for _, r := range recs {
		st.Domains = append(st.Domains, domainStats(r))
	}
	_, memKiB, cpus, _, _, _, _, _, err := l.NodeGetInfo()
	if err != nil {
		return st, fmt.Errorf("node info: %w", err)
	}
	st.CPUs, st.MemoryBytes = int(cpus), memKiB*1024
	if st.CPUTimeNs, err = nodeCPUTime(l); err != nil {
		return st, err
	}
	if st.MemoryFreeBytes, err = nodeFreeMemory(l, st.MemoryBytes); err != nil {
		return st, err
	}
	if st.Pools, err = listPools(l); err != nil {
		return st, err
	}
	return st, nil
}

// domainStats sums a record's typed parameters ("block.0.wr.bytes", …).
func domainStats(r libvirt.DomainStatsRecord) DomainStats {
	d := DomainStats{Name: r.Dom.Name}
	var total, vcpus uint64
	haveVCPUs := false
	for _, p := range r.Params {
		v, ok := paramUint(p.Value)
		if !ok {
			continue
		}
		f := p.Field
		switch {
		case f == "cpu.time":
			total = v
		case strings.HasPrefix(f, "vcpu.") && indexedField(f) == "time":
			vcpus += v
			haveVCPUs = true
		case f == "balloon.current":
			d.BalloonBytes = v * 1024 // KiB
		case f == "balloon.rss":
			d.RSSBytes = v * 1024
		case strings.HasPrefix(f, "block."):
			switch indexedField(f) {
			case "rd.bytes":
				d.ReadBytes += v
			case "wr.bytes":
				d.WriteBytes += v
			case "rd.reqs":
				d.ReadReqs += v
			case "wr.reqs":
				d.WriteReqs += v
			case "allocation":
				d.DiskAllocationBytes += v
			}
		case strings.HasPrefix(f, "net."):
			switch indexedField(f) {
			case "rx.bytes":
				d.RxBytes += v
			case "tx.bytes":
				d.TxBytes += v
			}
		}
	}
	d.CPUTimeNs = total
	if haveVCPUs {
		d.CPUTimeNs = vcpus
	}
	return d
}

// indexedField returns "wr.bytes" for "block.0.wr.bytes", "" for fields
// without an index ("block.count").
func indexedField(f string) string {
	parts := strings.SplitN(f, ".", 3)
	if len(parts) < 3 {
		return ""
	}
	if _, err := strconv.Atoi(parts[1]); err != nil {
		return ""
	}
	return parts[2]
}

func paramUint(v libvirt.TypedParamValue) (uint64, bool) {
	switch x := v.I.(type) {
	case uint64:
		return x, true
	case int64:
		return uint64(max(x, 0)), true
	case uint32:
		return uint64(x), true
	case int32:
		return uint64(max(x, 0)), true
	}
	return 0, false
}

// nodeCPUTime is the host's busy CPU time over all CPUs. Drivers without
// node CPU statistics (libvirt's test driver) report 0.
func nodeCPUTime(l *libvirt.Libvirt) (uint64, error) {
	params, _, err := l.NodeGetCPUStats(int32(libvirt.NodeCPUStatsAllCpus), 4, 0)
	if err != nil {
		if isUnsupported(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("node CPU statistics: %w", err)
	}
	var busy uint64
	for _, p := range params {
		if p.Field == "kernel" || p.Field == "user" {
			busy += p.Value
		}
	}
	return busy, nil
}

// nodeFreeMemory is what of total is free or reclaimable (free + buffers +
// cached), in bytes.
func nodeFreeMemory(l *libvirt.Libvirt, total uint64) (uint64, error) {
	params, _, err := l.NodeGetMemoryStats(4, int32(libvirt.NodeMemoryStatsAllCells), 0)
	if err != nil {
		if isUnsupported(err) {
			free, ferr := l.NodeGetFreeMemory()
			if ferr != nil {
				return 0, fmt.Errorf("free memory: %w", ferr)
			}
			return min(free, total), nil
		}
		return 0, fmt.Errorf("node memory statistics: %w", err)
	}
	// "total" of the same reading: NodeGetInfo's total may be smaller (a
	// memory limit of libvirtd's cgroup), so free is taken relative to it.
	var free, statTotal uint64
	for _, p := range params {
		switch p.Field {
		case "total":
			statTotal = p.Value * 1024 // KiB
		case "free", "buffers", "cached":
			free += p.Value * 1024
		}
	}
	if statTotal == 0 {
		return min(free, total), nil
	}
	used := statTotal - min(free, statTotal)
	return total - min(used, total), nil
}

func isUnsupported(err error) bool {
	return hasCode(err, libvirt.ErrNoSupport, libvirt.ErrOperationUnsupported)
}
