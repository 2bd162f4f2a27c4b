package hypervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// ErrShrink is returned by ResizeVolume for a size below the volume's
// current one: shrinking a disk under a guest's file system destroys data.
var ErrShrink = errors.New("volume cannot shrink")

// sectorSize is what QEMU rounds disk sizes up to. Sizes are rounded here
// first, so that asking twice for the same size finds the volume at exactly
// that size and does nothing (instead of seeing a different size).
const sectorSize = 512

// VolumeRef names a volume in a storage pool.
type VolumeRef struct {
	Pool string
	Name string
}

// VolumeInfo describes a storage volume.
type VolumeInfo struct {
	Name            string
	Path            string // the file on the host
	Format          string // "qcow2", "raw" (ISO images too), ...
	CapacityBytes   uint64 // the size the guest sees
	AllocationBytes uint64 // what it takes on the host
	// BackingPath is the image a copy-on-write volume reads unwritten
	// blocks from; empty if it has none.
	BackingPath string
}

// CreateDiskVolume creates a qcow2 volume for a guest disk. The file is
// qcow2 v3 (compat 1.1), which dirty bitmaps (incremental backups) and
// replication need; libvirt would otherwise make v2 files.
//
// With backing set, the volume is a copy-on-write clone of that image
// volume (which may be in another pool): creating it copies nothing. Its
// size must then be at least the image's virtual size; 0 means exactly
// that. Without backing the volume is empty and sizeBytes must not be 0.
// Sizes are rounded up to whole 512-byte sectors.
//
// If a volume of that name exists, it is returned as it is (a retried job
// finds the disk its first attempt made); it is an error only if it is not
// qcow2.
func (m *Manager) CreateDiskVolume(ctx context.Context, uri, pool, name string, sizeBytes uint64, backing *VolumeRef) (VolumeInfo, error) {
	if err := checkVolumeName(name); err != nil {
		return VolumeInfo{}, err
	}
	if backing == nil && sizeBytes == 0 {
		return VolumeInfo{}, fmt.Errorf("create volume %s: size 0 without a backing image", name)
	}
	info, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (VolumeInfo, error) {
		return createDiskVolume(l, pool, name, roundUp(sizeBytes, sectorSize), backing)
	})
	if err != nil {
		return VolumeInfo{}, fmt.Errorf("create volume %s/%s on %s: %w", pool, name, uri, err)
	}
	return info, nil
}

func createDiskVolume(l *libvirt.Libvirt, pool, name string, size uint64, backing *VolumeRef) (VolumeInfo, error) {
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return VolumeInfo{}, fmt.Errorf("pool: %w", err)
	}
	if v, err := l.StorageVolLookupByName(p, name); err == nil {
		return existingDisk(l, v)
	} else if !IsNotFound(err) {
		return VolumeInfo{}, fmt.Errorf("look up volume: %w", err)
	}

	def := libvirtxml.StorageVolume{
		Name: name,
		Target: &libvirtxml.StorageVolumeTarget{
			Format: &libvirtxml.StorageVolumeTargetFormat{Type: "qcow2"},
			Compat: "1.1",
		},
	}
	if backing != nil {
		img, err := backingImage(l, *backing)
		if err != nil {
			return VolumeInfo{}, err
		}
		if size == 0 {
			size = img.CapacityBytes
		}
		if size < img.CapacityBytes {
			return VolumeInfo{}, fmt.Errorf("size %d bytes is smaller than image %s/%s (%d bytes)",
				size, backing.Pool, backing.Name, img.CapacityBytes)
		}
		// The backing format is given, never probed: probing lets a raw
		// image that looks like qcow2 pull in files it names.
		def.BackingStore = &libvirtxml.StorageVolumeBackingStore{
			Path:   img.Path,
			Format: &libvirtxml.StorageVolumeTargetFormat{Type: img.Format},
		}
	}
	def.Capacity = &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: size}
	x, err := def.Marshal()
	if err != nil {
		return VolumeInfo{}, fmt.Errorf("volume XML: %w", err)
	}
	v, err := l.StorageVolCreateXML(p, x, 0)
	if err != nil {
		// A concurrent caller may have created it between lookup and create.
		if v, lerr := l.StorageVolLookupByName(p, name); lerr == nil {
			return existingDisk(l, v)
		}
		return VolumeInfo{}, fmt.Errorf("create: %w", err)
	}
	return describeVolume(l, v)
}

// backingImage checks that ref can serve as a clone's backing image.
func backingImage(l *libvirt.Libvirt, ref VolumeRef) (VolumeInfo, error) {
	v, err := lookupVolume(l, ref.Pool, ref.Name)
	if err != nil {
		return VolumeInfo{}, fmt.Errorf("backing image: %w", err)
	}
	img, err := describeVolume(l, v)
	if err != nil {
		return VolumeInfo{}, fmt.Errorf("backing image: %w", err)
	}
	// Images come from uploads: one that itself names a backing file could
	// make every clone read a file of the host's choosing, e.g. another
	// guest's disk.
	if img.BackingPath != "" {
		return VolumeInfo{}, fmt.Errorf("backing image %s/%s has a backing file itself (%s); refused",
			ref.Pool, ref.Name, img.BackingPath)
	}
	if img.Format != "qcow2" && img.Format != "raw" {
		return VolumeInfo{}, fmt.Errorf("backing image %s/%s has format %q, want qcow2 or raw", ref.Pool, ref.Name, img.Format)
	}
	return img, nil
}

func existingDisk(l *libvirt.Libvirt, v libvirt.StorageVol) (VolumeInfo, error) {
	info, err := describeVolume(l, v)
	if err != nil {
		return VolumeInfo{}, err
	}
	if info.Format != "qcow2" {
		return VolumeInfo{}, fmt.Errorf("volume exists with format %q, not qcow2", info.Format)
	}
	return info, nil
}

// ResizeVolume grows a volume to sizeBytes (rounded up to 512 bytes). It
// does nothing if the volume has that size already and refuses to shrink
// it (ErrShrink). The guest sees the new size at its next start: the volume
// must not be in use by a running guest.
func (m *Manager) ResizeVolume(ctx context.Context, uri, pool, name string, sizeBytes uint64) error {
	size := roundUp(sizeBytes, sectorSize)
	_, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		v, err := lookupVolume(l, pool, name)
		if err != nil {
			return struct{}{}, err
		}
		info, err := describeVolume(l, v)
		if err != nil {
			return struct{}{}, err
		}
		switch {
		case size == info.CapacityBytes:
			return struct{}{}, nil
		case size < info.CapacityBytes:
			return struct{}{}, fmt.Errorf("%w: it has %d bytes, asked for %d", ErrShrink, info.CapacityBytes, size)
		}
		if err := l.StorageVolResize(v, size, 0); err != nil {
			return struct{}{}, fmt.Errorf("resize: %w", err)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("resize volume %s/%s on %s to %d bytes: %w", pool, name, uri, size, err)
	}
	return nil
}

// DeleteVolume deletes a volume and its file. A volume that does not exist
// is not an error; a pool that does not exist is.
func (m *Manager) DeleteVolume(ctx context.Context, uri, pool, name string) error {
	_, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		return struct{}{}, deleteVolume(l, pool, name)
	})
	if err != nil {
		return fmt.Errorf("delete volume %s/%s on %s: %w", pool, name, uri, err)
	}
	return nil
}

func deleteVolume(l *libvirt.Libvirt, pool, name string) error {
	v, err := lookupVolume(l, pool, name)
	if hasCode(err, libvirt.ErrNoStorageVol) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := l.StorageVolDelete(v, 0); err != nil && !hasCode(err, libvirt.ErrNoStorageVol) {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// VolumeInfo describes one volume. A missing volume is an error for which
// IsNotFound is true.
func (m *Manager) VolumeInfo(ctx context.Context, uri, pool, name string) (VolumeInfo, error) {
	info, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (VolumeInfo, error) {
		v, err := lookupVolume(l, pool, name)
		if err != nil {
			return VolumeInfo{}, err
		}
		return describeVolume(l, v)
	})
	if err != nil {
		return VolumeInfo{}, fmt.Errorf("volume %s/%s on %s: %w", pool, name, uri, err)
	}
	return info, nil
}

// ListVolumes describes every volume in a pool, sorted by name.
func (m *Manager) ListVolumes(ctx context.Context, uri, pool string) ([]VolumeInfo, error) {
	vols, err := call(ctx, m, uri, func(l *libvirt.Libvirt) ([]VolumeInfo, error) {
		p, err := l.StoragePoolLookupByName(pool)
		if err != nil {
			return nil, fmt.Errorf("pool: %w", err)
		}
		// NeedResults=1: without it libvirt only returns the count.
		handles, _, err := l.StoragePoolListAllVolumes(p, 1, 0)
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		vols := make([]VolumeInfo, 0, len(handles))
		for _, h := range handles {
			info, err := describeVolume(l, h)
			if IsNotFound(err) {
				continue // deleted since the listing
			}
			if err != nil {
				return nil, err
			}
			vols = append(vols, info)
		}
		slices.SortFunc(vols, func(a, b VolumeInfo) int { return strings.Compare(a.Name, b.Name) })
		return vols, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list volumes of %s on %s: %w", pool, uri, err)
	}
	return vols, nil
}

func lookupVolume(l *libvirt.Libvirt, pool, name string) (libvirt.StorageVol, error) {
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return libvirt.StorageVol{}, fmt.Errorf("pool %s: %w", pool, err)
	}
	v, err := l.StorageVolLookupByName(p, name)
	if err != nil {
		return libvirt.StorageVol{}, fmt.Errorf("volume %s: %w", name, err)
	}
	return v, nil
}

// describeVolume reads a volume's XML. libvirt re-reads the file's header
// for it, so sizes and format are current (e.g. right after an upload).
func describeVolume(l *libvirt.Libvirt, v libvirt.StorageVol) (VolumeInfo, error) {
	x, err := l.StorageVolGetXMLDesc(v, 0)
	if err != nil {
		return VolumeInfo{}, fmt.Errorf("volume %s XML: %w", v.Name, err)
	}
	var def libvirtxml.StorageVolume
	if err := def.Unmarshal(x); err != nil {
		return VolumeInfo{}, fmt.Errorf("parse volume %s XML: %w", v.Name, err)
	}
	info := VolumeInfo{Name: def.Name}
	if def.Target != nil {
		info.Path = def.Target.Path
		if def.Target.Format != nil {
			info.Format = def.Target.Format.Type
		}
		// libvirt probes the files of a dir pool when it refreshes the
		// pool (which it does after every upload) and calls a raw file
		// that holds an ISO 9660 image "iso". To QEMU it is raw.
		if info.Format == "iso" {
			info.Format = "raw"
		}
	}
	if info.CapacityBytes, err = sizeBytes(def.Capacity); err != nil {
		return VolumeInfo{}, fmt.Errorf("volume %s capacity: %w", v.Name, err)
	}
	if info.AllocationBytes, err = sizeBytes(def.Allocation); err != nil {
		return VolumeInfo{}, fmt.Errorf("volume %s allocation: %w", v.Name, err)
	}
	if def.BackingStore != nil {
		info.BackingPath = def.BackingStore.Path
	}
	return info, nil
}

// sizeBytes reads a size from volume XML, which libvirt writes in bytes.
func sizeBytes(s *libvirtxml.StorageVolumeSize) (uint64, error) {
	if s == nil {
		return 0, nil
	}
	if s.Unit != "" && s.Unit != "bytes" && s.Unit != "B" {
		return 0, fmt.Errorf("unexpected unit %q", s.Unit)
	}
	return s.Value, nil
}

// checkVolumeName rejects names that are not a plain file name: a dir
// pool's volume name is its file name.
func checkVolumeName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid volume name %q", name)
	}
	return nil
}

func roundUp(n, to uint64) uint64 {
	return (n + to - 1) / to * to
}

// ReadVolume returns length bytes of a volume's file from offset off, as
// stored (for a raw volume, the guest's bytes): for checks of a replica
// and for tests. It holds the bytes in memory; read small ranges.
func (m *Manager) ReadVolume(ctx context.Context, uri, pool, name string, off, length uint64) ([]byte, error) {
	if length > 64<<20 {
		return nil, fmt.Errorf("read volume %s/%s on %s: %d bytes is more than 64 MiB at once", pool, name, uri, length)
	}
	b, err := call(ctx, m, uri, func(l *libvirt.Libvirt) ([]byte, error) {
		v, err := lookupVolume(l, pool, name)
		if err != nil {
			return nil, err
		}
		// A bytes.Buffer never fails a Write: a failing writer would wedge
		// the shared connection (see the downloads in replicate.go).
		var buf bytes.Buffer
		if err := l.StorageVolDownload(v, &buf, off, length, 0); err != nil {
			return nil, fmt.Errorf("download: %w", err)
		}
		return buf.Bytes(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("read volume %s/%s on %s: %w", pool, name, uri, err)
	}
	return b, nil
}
