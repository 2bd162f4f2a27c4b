package hypervisor

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// SnapshotTop puts a new, empty qcow2 overlay (the file name in pool)
// on top of the running domain's disk (an external disk-only snapshot, no
// snapshot metadata): from then on the guest writes into it, and the disk
// below stays as it was. It takes a fraction of a second and does not
// pause the guest. The pool is refreshed so the overlay is a volume.
func (m *Manager) SnapshotTop(ctx context.Context, uri, pool, domain, disk, name string) error {
	if err := checkVolumeName(name); err != nil {
		return err
	}
	_, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		p, dir, err := poolDir(l, pool)
		if err != nil {
			return struct{}{}, err
		}
		dom, err := l.DomainLookupByName(domain)
		if err != nil {
			return struct{}{}, err
		}
		snap := libvirtxml.DomainSnapshot{
			Name: "allmende-switch",
			Disks: &libvirtxml.DomainSnapshotDisks{Disks: []libvirtxml.DomainSnapshotDisk{{
				Name: disk, Snapshot: "external", Driver: &libvirtxml.DomainDiskDriver{Type: "qcow2"},
				Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: filepath.Join(dir, name)}},
			}}},
		}
		x, err := snap.Marshal()
		if err != nil {
			return struct{}{}, err
		}
		flags := libvirt.DomainSnapshotCreateDiskOnly | libvirt.DomainSnapshotCreateNoMetadata | libvirt.DomainSnapshotCreateAtomic
		if _, err := l.DomainSnapshotCreateXML(dom, x, uint32(flags)); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, l.StoragePoolRefresh(p, 0)
	})
	if err != nil {
		return fmt.Errorf("overlay %s on disk %s of %s on %s: %w", name, disk, domain, uri, err)
	}
	return nil
}

func poolDir(l *libvirt.Libvirt, pool string) (libvirt.StoragePool, string, error) {
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return p, "", fmt.Errorf("pool %s: %w", pool, err)
	}
	def, err := poolDefinition(l, p)
	if err != nil {
		return p, "", err
	}
	if def.Target == nil || def.Target.Path == "" {
		return p, "", fmt.Errorf("pool %s has no directory", pool)
	}
	return p, filepath.Clean(def.Target.Path), nil
}

// TargetXML is the running domain's migratable definition with every file
// in the pool's directory on the source host moved to the same file name
// in that pool's directory on the target host, and the disk disk's source
// replaced by the volume diskVolume there (its backing chain is the
// target's business). For a migration between hosts whose pools lie in
// different directories (MigrateOptions.DestXML).
func (m *Manager) TargetXML(ctx context.Context, srcURI, dstURI, pool, domain, disk, diskVolume string) (string, error) {
	dstDir, err := call(ctx, m, dstURI, func(l *libvirt.Libvirt) (string, error) {
		_, dir, err := poolDir(l, pool)
		return dir, err
	})
	if err != nil {
		return "", fmt.Errorf("target xml of %s: %w", domain, err)
	}
	x, err := call(ctx, m, srcURI, func(l *libvirt.Libvirt) (string, error) {
		_, srcDir, err := poolDir(l, pool)
		if err != nil {
			return "", err
		}
		dom, err := l.DomainLookupByName(domain)
		if err != nil {
			return "", err
		}
		x, err := l.DomainGetXMLDesc(dom, libvirt.DomainXMLMigratable)
		if err != nil {
			return "", err
		}
		var def libvirtxml.Domain
		if err := def.Unmarshal(x); err != nil {
			return "", err
		}
		move := func(p string) string {
			if rest, ok := strings.CutPrefix(p, srcDir+"/"); ok {
				return filepath.Join(dstDir, rest)
			}
			return p
		}
		if def.OS != nil {
			def.OS.Kernel, def.OS.Initrd = move(def.OS.Kernel), move(def.OS.Initrd)
		}
		found := false
		if def.Devices != nil {
			for i := range def.Devices.Disks {
				d := &def.Devices.Disks[i]
				if d.Source == nil || d.Source.File == nil {
					continue
				}
				if d.Target != nil && d.Target.Dev == disk {
					d.Source.File.File, d.BackingStore, found = filepath.Join(dstDir, diskVolume), nil, true
					continue
				}
				d.Source.File.File = move(d.Source.File.File)
			}
		}
		if !found {
			return "", fmt.Errorf("no file disk %s", disk)
		}
		return def.Marshal()
	})
	if err != nil {
		return "", fmt.Errorf("target xml of %s: %w", domain, err)
	}
	return x, nil
}
