package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"

	"github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"
)

// ErrDomainRunning is returned by DefineDomain when the domain is running
// and the new spec differs from its definition: a running guest keeps its
// vCPUs, memory and devices until it is stopped.
var ErrDomainRunning = errors.New("domain is running")

// ErrDomainNotRunning is returned by OpenConsole for a domain that is shut
// off: there is no console to attach to.
var ErrDomainNotRunning = errors.New("domain is not running")

// DomainSpec is what a guest is made of. DefineDomain turns it into a
// libvirt domain.
type DomainSpec struct {
	Name        string // e.g. "allmende-<uuid>", chosen by the caller, never user text
	UUID        string // required: libvirt would make up a new one on every define
	Type        string // "qemu" (TCG, tests) or "kvm" (real hosts)
	VCPUs       int
	MemoryMiB   int
	Disks       []DiskSpec // in order: the first disk is the boot disk
	Network     *NICSpec   // nil = no NIC
	Kernel      string     // optional direct kernel boot (used by tests)
	Initrd      string
	Cmdline     string
	Description string // e.g. "allmende vm <id>"
}

// DiskSpec is a guest disk backed by a volume's file.
type DiskSpec struct {
	Pool   string
	Volume string
	Device string // "disk" (default) or "cdrom" (read-only)
	Bus    string // "virtio" (default for disks) or "sata" (default, and the only choice, for cdroms)
	// Format is "qcow2" or "raw", as the volume was created or uploaded.
	// It is required, never probed: a raw image whose content looks like
	// qcow2 could otherwise name a host file as its backing file and so
	// get the guest access to it.
	Format string
}

// NICSpec connects the guest to a libvirt network or a host bridge.
type NICSpec struct {
	Network string // libvirt network name, or
	Bridge  string // host bridge name
	// MAC is required: the guest's network config (cloud-init) matches the
	// NIC by it, so it must not change when the domain is redefined.
	MAC string
}

// DefineDomain makes the host's definition of spec.Name match spec: it
// defines a missing domain and redefines a stopped one whose definition
// differs (that is how vCPUs and memory are changed). A running domain is
// left alone: if its definition already matches, that is success, else
// ErrDomainRunning. Only definitions made by DefineDomain count as
// matching; it records a digest of the spec in the domain's metadata.
func (m *Manager) DefineDomain(ctx context.Context, uri string, spec DomainSpec) error {
	spec, err := spec.normalized()
	if err != nil {
		return fmt.Errorf("define domain %s: %w", spec.Name, err)
	}
	_, err = call(ctx, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		return struct{}{}, defineDomain(l, spec)
	})
	if err != nil {
		return fmt.Errorf("define domain %s on %s: %w", spec.Name, uri, err)
	}
	return nil
}

func defineDomain(l *libvirt.Libvirt, spec DomainSpec) error {
	disks, err := resolveDisks(l, spec.Disks)
	if err != nil {
		return err
	}
	x, digest, err := domainXML(spec, disks)
	if err != nil {
		return err
	}

	dom, err := l.DomainLookupByName(spec.Name)
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("look up: %w", err)
	}
	if err == nil {
		cur, err := definedDigest(l, dom)
		if err != nil {
			return err
		}
		if cur == digest {
			return nil
		}
		active, err := l.DomainIsActive(dom)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if active != 0 {
			return ErrDomainRunning
		}
	}
	if _, err := l.DomainDefineXML(x); err != nil {
		return fmt.Errorf("define: %w", err)
	}
	return nil
}

// resolvedDisk is a DiskSpec with its volume's file looked up.
type resolvedDisk struct {
	DiskSpec
	path string
}

func resolveDisks(l *libvirt.Libvirt, specs []DiskSpec) ([]resolvedDisk, error) {
	disks := make([]resolvedDisk, len(specs))
	for i, d := range specs {
		v, err := lookupVolume(l, d.Pool, d.Volume)
		if err != nil {
			return nil, fmt.Errorf("disk %d: %w", i+1, err)
		}
		path, err := l.StorageVolGetPath(v)
		if err != nil {
			return nil, fmt.Errorf("disk %d: path of %s/%s: %w", i+1, d.Pool, d.Volume, err)
		}
		disks[i] = resolvedDisk{DiskSpec: d, path: path}
	}
	return disks, nil
}

// domainNameRE keeps names to what is safe as a file name and in logs;
// libvirt itself only forbids "/".
var domainNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,199}$`)

// normalized checks spec and fills in defaults.
func (spec DomainSpec) normalized() (DomainSpec, error) {
	if !domainNameRE.MatchString(spec.Name) {
		return spec, fmt.Errorf("invalid domain name %q", spec.Name)
	}
	id, err := uuid.Parse(spec.UUID)
	if err != nil {
		return spec, fmt.Errorf("invalid UUID %q: %w", spec.UUID, err)
	}
	spec.UUID = id.String()
	if spec.Type != "qemu" && spec.Type != "kvm" {
		return spec, fmt.Errorf("domain type %q: want qemu or kvm", spec.Type)
	}
	if spec.VCPUs < 1 {
		return spec, fmt.Errorf("%d vCPUs", spec.VCPUs)
	}
	if spec.MemoryMiB < 16 {
		return spec, fmt.Errorf("%d MiB of memory is too little", spec.MemoryMiB)
	}
	if spec.Kernel == "" && (spec.Initrd != "" || spec.Cmdline != "") {
		return spec, errors.New("initrd or kernel command line without a kernel")
	}
	disks := make([]DiskSpec, len(spec.Disks))
	for i, d := range spec.Disks {
		if d.Pool == "" || d.Volume == "" {
			return spec, fmt.Errorf("disk %d: pool and volume are required", i+1)
		}
		if d.Device == "" {
			d.Device = "disk"
		}
		switch d.Device {
		case "disk":
			if d.Bus == "" {
				d.Bus = "virtio"
			}
		case "cdrom":
			if d.Bus == "" {
				d.Bus = "sata"
			}
			if d.Bus != "sata" {
				return spec, fmt.Errorf("disk %d: a cdrom needs bus sata, not %q", i+1, d.Bus)
			}
		default:
			return spec, fmt.Errorf("disk %d: device %q, want disk or cdrom", i+1, d.Device)
		}
		if d.Bus != "virtio" && d.Bus != "sata" {
			return spec, fmt.Errorf("disk %d: bus %q, want virtio or sata", i+1, d.Bus)
		}
		if d.Format != "qcow2" && d.Format != "raw" {
			return spec, fmt.Errorf("disk %d: format %q, want qcow2 or raw", i+1, d.Format)
		}
		disks[i] = d
	}
	spec.Disks = disks
	if n := spec.Network; n != nil {
		if (n.Network == "") == (n.Bridge == "") {
			return spec, errors.New("NIC: give exactly one of network and bridge")
		}
		mac, err := net.ParseMAC(n.MAC)
		if err != nil || len(mac) != 6 {
			return spec, fmt.Errorf("NIC: invalid MAC address %q", n.MAC)
		}
		nic := *n
		nic.MAC = mac.String()
		spec.Network = &nic
	}
	return spec, nil
}
