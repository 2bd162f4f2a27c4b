package hypervisor

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// Inventory is what a host has to offer, as libvirt reports it.
type Inventory struct {
	Hostname          string
	CPUs              int    // logical CPUs
	CPUModel          string // e.g. "x86_64"
	MemoryBytes       uint64 // total
	FreeMemoryBytes   uint64
	LibvirtVersion    string // e.g. "9.0.0"
	HypervisorVersion string // e.g. "7.2.0" for QEMU
	HypervisorType    string // e.g. "QEMU"
	Pools             []Pool // sorted by name
}

// Pool is one storage pool on a host.
type Pool struct {
	Name   string
	Active bool
	// Path is the pool's target directory (for dir pools, where the volume
	// files live); empty for pool types that have none.
	Path            string
	CapacityBytes   uint64
	AllocationBytes uint64
	AvailableBytes  uint64
}

// Inventory asks the host at uri for its CPUs, memory, versions and pools.
func (m *Manager) Inventory(ctx context.Context, uri string) (Inventory, error) {
	inv, err := call(ctx, m, uri, readInventory)
	if err != nil {
		return Inventory{}, fmt.Errorf("inventory of %s: %w", uri, err)
	}
	return inv, nil
}

func readInventory(l *libvirt.Libvirt) (Inventory, error) {
	var inv Inventory
	var err error
	if inv.Hostname, err = l.ConnectGetHostname(); err != nil {
		return inv, fmt.Errorf("hostname: %w", err)
	}
	model, memKiB, cpus, _, _, _, _, _, err := l.NodeGetInfo()
	if err != nil {
		return inv, fmt.Errorf("node info: %w", err)
	}
	inv.CPUModel = cString(model[:])
	inv.CPUs = int(cpus)
	inv.MemoryBytes = memKiB * 1024 // NodeGetInfo reports KiB
	if inv.FreeMemoryBytes, err = l.NodeGetFreeMemory(); err != nil {
		return inv, fmt.Errorf("free memory: %w", err)
	}
	libVer, err := l.ConnectGetLibVersion()
	if err != nil {
		return inv, fmt.Errorf("libvirt version: %w", err)
	}
	inv.LibvirtVersion = versionString(libVer)
	hvVer, err := l.ConnectGetVersion()
	if err != nil {
		return inv, fmt.Errorf("hypervisor version: %w", err)
	}
	inv.HypervisorVersion = versionString(hvVer)
	if inv.HypervisorType, err = l.ConnectGetType(); err != nil {
		return inv, fmt.Errorf("hypervisor type: %w", err)
	}
	if inv.Pools, err = listPools(l); err != nil {
		return inv, err
	}
	return inv, nil
}

func listPools(l *libvirt.Libvirt) ([]Pool, error) {
	// NeedResults=1: without it libvirt only returns the count.
	handles, _, err := l.ConnectListAllStoragePools(1, 0)
	if err != nil {
		return nil, fmt.Errorf("list storage pools: %w", err)
	}
	pools := make([]Pool, 0, len(handles))
	for _, h := range handles {
		p, err := describePool(l, h)
		if IsNotFound(err) {
			continue // undefined between listing and asking: not ours to report
		}
		if err != nil {
			return nil, err
		}
		pools = append(pools, p)
	}
	slices.SortFunc(pools, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })
	return pools, nil
}

func describePool(l *libvirt.Libvirt, h libvirt.StoragePool) (Pool, error) {
	state, capacity, allocation, available, err := l.StoragePoolGetInfo(h)
	if err != nil {
		return Pool{}, fmt.Errorf("storage pool %s info: %w", h.Name, err)
	}
	def, err := poolDefinition(l, h)
	if err != nil {
		return Pool{}, err
	}
	p := Pool{
		Name:            h.Name,
		Active:          libvirt.StoragePoolState(state) == libvirt.StoragePoolRunning,
		CapacityBytes:   capacity,
		AllocationBytes: allocation,
		AvailableBytes:  available,
	}
	if def.Target != nil {
		p.Path = def.Target.Path
	}
	return p, nil
}

func poolDefinition(l *libvirt.Libvirt, h libvirt.StoragePool) (*libvirtxml.StoragePool, error) {
	x, err := l.StoragePoolGetXMLDesc(h, 0)
	if err != nil {
		return nil, fmt.Errorf("storage pool %s XML: %w", h.Name, err)
	}
	var def libvirtxml.StoragePool
	if err := def.Unmarshal(x); err != nil {
		return nil, fmt.Errorf("parse storage pool %s XML: %w", h.Name, err)
	}
	return &def, nil
}

// versionString turns libvirt's packed major*1e6 + minor*1e3 + micro into "9.0.0".
func versionString(v uint64) string {
	return fmt.Sprintf("%d.%d.%d", v/1_000_000, v/1_000%1_000, v%1_000)
}

// cString converts a NUL-padded C char array, as XDR delivers it, to a string.
func cString(b []int8) string {
	buf := make([]byte, len(b))
	for i, c := range b {
		buf[i] = byte(c)
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return string(buf)
}
