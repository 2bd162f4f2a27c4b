package hypervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// machineType is QEMU's q35: PCIe, AHCI for CD-ROMs, and it boots under TCG
// as well as KVM. libvirt stores it expanded (e.g. pc-q35-7.2), which pins
// the guest's virtual hardware across QEMU upgrades.
const machineType = "q35"

// specNamespace is the XML namespace of our element in a domain's
// <metadata>; libvirt keeps one element per namespace.
const specNamespace = "urn:allmende:hypervisor:domain-spec:1"

// specStamp records which spec a definition was made from. libvirt
// rewrites the XML it is given (adds controllers, addresses, expands the
// machine type), so comparing XML would always see a difference; comparing
// digests of what we sent does not.
type specStamp struct {
	XMLName xml.Name `xml:"urn:allmende:hypervisor:domain-spec:1 spec"`
	Digest  string   `xml:"digest,attr"`
}

// domainXML renders the domain for spec and returns it with the digest
// that its metadata records.
func domainXML(spec DomainSpec, disks []resolvedDisk) (string, string, error) {
	dom := buildDomain(spec, disks)
	bare, err := dom.Marshal()
	if err != nil {
		return "", "", fmt.Errorf("domain XML: %w", err)
	}
	sum := sha256.Sum256([]byte(bare))
	digest := hex.EncodeToString(sum[:])

	stamp, err := xml.Marshal(specStamp{Digest: digest})
	if err != nil {
		return "", "", fmt.Errorf("domain metadata: %w", err)
	}
	dom.Metadata = &libvirtxml.DomainMetadata{XML: string(stamp)}
	x, err := dom.Marshal()
	if err != nil {
		return "", "", fmt.Errorf("domain XML: %w", err)
	}
	return x, digest, nil
}

func buildDomain(spec DomainSpec, disks []resolvedDisk) *libvirtxml.Domain {
	port0 := uint(0)
	dom := &libvirtxml.Domain{
		Type:        spec.Type,
		Name:        spec.Name,
		UUID:        spec.UUID,
		Description: spec.Description,
		Memory:      &libvirtxml.DomainMemory{Value: uint(spec.MemoryMiB), Unit: "MiB"},
		VCPU:        &libvirtxml.DomainVCPU{Value: uint(spec.VCPUs)},
		OS: &libvirtxml.DomainOS{
			Type:    &libvirtxml.DomainOSType{Arch: "x86_64", Machine: machineType, Type: "hvm"},
			Kernel:  spec.Kernel,
			Initrd:  spec.Initrd,
			Cmdline: spec.Cmdline,
		},
		// ACPI is what lets ShutdownDomain ask the guest to power off.
		Features: &libvirtxml.DomainFeatureList{
			ACPI: &libvirtxml.DomainFeature{},
			APIC: &libvirtxml.DomainFeatureAPIC{},
		},
		Clock:      &libvirtxml.DomainClock{Offset: "utc"},
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		OnCrash:    "destroy",
		Devices: &libvirtxml.DomainDeviceList{
			Disks: domainDisks(disks),
			// A pty serial port doubling as the console: what OpenConsole
			// connects to, and what cloud images log to (console=ttyS0).
			Serials: []libvirtxml.DomainSerial{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainSerialTarget{Port: &port0},
			}},
			Consoles: []libvirtxml.DomainConsole{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &port0},
			}},
			// Fresh guests need entropy at once (SSH host keys).
			RNGs: []libvirtxml.DomainRNG{{
				Model:   "virtio",
				Backend: &libvirtxml.DomainRNGBackend{Random: &libvirtxml.DomainRNGBackendRandom{Device: "/dev/urandom"}},
			}},
		},
	}
	if spec.Kernel == "" {
		dom.OS.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
	}
	if spec.Type == "kvm" {
		// QEMU's default CPU model lacks features current distributions
		// require (x86-64-v2); host-model passes them on yet stays
		// migratable between like hosts, unlike host-passthrough.
		dom.CPU = &libvirtxml.DomainCPU{Mode: "host-model"}
	}
	if n := spec.Network; n != nil {
		nic := libvirtxml.DomainInterface{
			MAC:    &libvirtxml.DomainInterfaceMAC{Address: n.MAC},
			Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"},
			Source: &libvirtxml.DomainInterfaceSource{},
		}
		if n.Network != "" {
			nic.Source.Network = &libvirtxml.DomainInterfaceSourceNetwork{Network: n.Network}
		} else {
			nic.Source.Bridge = &libvirtxml.DomainInterfaceSourceBridge{Bridge: n.Bridge}
		}
		dom.Devices.Interfaces = []libvirtxml.DomainInterface{nic}
	}
	return dom
}

// domainDisks names disks by bus in order (vda, vdb, ...; sda, ...), so the
// first virtio disk is vda, the boot disk.
func domainDisks(disks []resolvedDisk) []libvirtxml.DomainDisk {
	next := map[string]int{}
	prefix := map[string]string{"virtio": "vd", "sata": "sd"}
	out := make([]libvirtxml.DomainDisk, 0, len(disks))
	for _, d := range disks {
		i := next[d.Bus]
		next[d.Bus]++
		disk := libvirtxml.DomainDisk{
			Device: d.Device,
			Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: d.Format},
			Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: d.path}},
			Target: &libvirtxml.DomainDiskTarget{Dev: prefix[d.Bus] + diskLetters(i), Bus: d.Bus},
		}
		if d.Device == "cdrom" {
			disk.ReadOnly = &libvirtxml.DomainDiskReadOnly{}
		} else {
			// Let the guest's TRIM free space in the (thin) qcow2 file.
			disk.Driver.Discard = "unmap"
		}
		out = append(out, disk)
	}
	return out
}

// diskLetters is the suffix of the i-th disk name: a..z, aa..az, ...
func diskLetters(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('a'+(i-1)%26)) + s
	}
	return s
}

// definedDigest returns the digest recorded in the domain's persistent
// definition, or "" if it has none (not defined by DefineDomain).
func definedDigest(l *libvirt.Libvirt, dom libvirt.Domain) (string, error) {
	x, err := l.DomainGetXMLDesc(dom, libvirt.DomainXMLInactive)
	if err != nil {
		return "", fmt.Errorf("domain XML: %w", err)
	}
	var def libvirtxml.Domain
	if err := def.Unmarshal(x); err != nil {
		return "", fmt.Errorf("parse domain XML: %w", err)
	}
	if def.Metadata == nil {
		return "", nil
	}
	// The metadata may hold other tools' elements too: look at each.
	d := xml.NewDecoder(strings.NewReader(def.Metadata.XML))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", nil // end of metadata: no stamp of ours
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Space != specNamespace || start.Name.Local != "spec" {
			continue
		}
		var stamp specStamp
		if err := d.DecodeElement(&stamp, &start); err != nil {
			return "", fmt.Errorf("parse domain metadata: %w", err)
		}
		return stamp.Digest, nil
	}
}
