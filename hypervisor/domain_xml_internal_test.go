package hypervisor

import (
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"
)

func TestDomainXML(t *testing.T) {
	spec, err := DomainSpec{
		Name: "allmende-1", UUID: "6F9619FF-8B86-D011-B42D-00C04FC964FF", Type: "kvm", VCPUs: 2, MemoryMiB: 512,
		Disks: []DiskSpec{
			{Pool: "p", Volume: "root", Format: "qcow2"},
			{Pool: "p", Volume: "seed", Device: "cdrom", Format: "raw"},
			{Pool: "p", Volume: "data", Format: "raw"},
		},
		Network:     &NICSpec{Bridge: "br0", MAC: "52:54:00:AA:BB:CC"},
		Description: `allmende vm <1> & "friends"`,
	}.normalized()
	if err != nil {
		t.Fatal(err)
	}
	disks := []resolvedDisk{
		{spec.Disks[0], "/pool/root"}, {spec.Disks[1], "/pool/seed"}, {spec.Disks[2], "/pool/data"},
	}
	x, digest, err := domainXML(spec, disks)
	if err != nil {
		t.Fatal(err)
	}

	var dom libvirtxml.Domain
	if err := dom.Unmarshal(x); err != nil {
		t.Fatalf("our XML does not parse: %v\n%s", err, x)
	}
	if dom.UUID != "6f9619ff-8b86-d011-b42d-00c04fc964ff" || dom.Description != spec.Description {
		t.Errorf("UUID %q, description %q", dom.UUID, dom.Description)
	}
	if dom.CPU == nil || dom.CPU.Mode != "host-model" {
		t.Errorf("kvm domain CPU = %+v, want host-model", dom.CPU)
	}
	if len(dom.OS.BootDevices) != 1 || dom.OS.BootDevices[0].Dev != "hd" {
		t.Errorf("boot devices %+v, want hd", dom.OS.BootDevices)
	}
	wantDisks := []struct{ dev, bus, file, format string }{
		{"vda", "virtio", "/pool/root", "qcow2"}, {"sda", "sata", "/pool/seed", "raw"}, {"vdb", "virtio", "/pool/data", "raw"},
	}
	for i, w := range wantDisks {
		d := dom.Devices.Disks[i]
		if d.Target.Dev != w.dev || d.Target.Bus != w.bus || d.Source.File.File != w.file || d.Driver.Type != w.format {
			t.Errorf("disk %d: %s %s %s %s, want %v", i, d.Target.Dev, d.Target.Bus, d.Source.File.File, d.Driver.Type, w)
		}
	}
	if dom.Devices.Disks[1].ReadOnly == nil || dom.Devices.Disks[1].Device != "cdrom" {
		t.Error("cdrom is not a read-only cdrom")
	}
	nic := dom.Devices.Interfaces[0]
	if nic.Source.Bridge == nil || nic.Source.Bridge.Bridge != "br0" || nic.MAC.Address != "52:54:00:aa:bb:cc" || nic.Model.Type != "virtio" {
		t.Errorf("NIC %+v", nic)
	}
	if len(dom.Devices.Serials) != 1 || dom.Devices.Serials[0].Source.Pty == nil || len(dom.Devices.Consoles) != 1 {
		t.Error("no pty serial console")
	}
	if !strings.Contains(dom.Metadata.XML, digest) || !strings.Contains(dom.Metadata.XML, specNamespace) {
		t.Errorf("metadata %q lacks the digest", dom.Metadata.XML)
	}

	// Same spec, same digest; any change, another one.
	if _, again, _ := domainXML(spec, disks); again != digest {
		t.Error("digest is not stable")
	}
	spec.MemoryMiB++
	if _, changed, _ := domainXML(spec, disks); changed == digest {
		t.Error("digest ignores memory")
	}
}

func TestDiskLetters(t *testing.T) {
	for i, want := range map[int]string{0: "a", 1: "b", 25: "z", 26: "aa", 27: "ab", 51: "az", 52: "ba"} {
		if got := diskLetters(i); got != want {
			t.Errorf("diskLetters(%d) = %q, want %q", i, got, want)
		}
	}
}
