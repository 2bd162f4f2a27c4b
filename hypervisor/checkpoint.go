package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// ErrNoCheckpoint is returned by Replicate when the checkpoint an
// incremental copy starts from does not exist on the source host (e.g. the
// guest was migrated, which does not carry checkpoint metadata, or it was
// deleted): the caller must fall back to a full copy.
var ErrNoCheckpoint = errors.New("checkpoint not found")

// Checkpoint describes a libvirt checkpoint of a domain: the point in time
// from which a dirty bitmap per disk records the guest's writes.
type Checkpoint struct {
	Name    string
	Parent  string // "" for the oldest
	Created time.Time
	Disks   []string // target names with a bitmap, e.g. "vda"
}

// checkpointNameRE keeps checkpoint names to what is safe in XML, file
// names (QEMU names the bitmap after the checkpoint) and logs.
var checkpointNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

func checkCheckpointName(name string) error {
	if !checkpointNameRE.MatchString(name) {
		return fmt.Errorf("invalid checkpoint name %q", name)
	}
	return nil
}

// ListCheckpoints returns the domain's checkpoints, oldest first (parents
// before children).
func (m *Manager) ListCheckpoints(ctx context.Context, uri, domain string) ([]Checkpoint, error) {
	cps, err := call(ctx, m, uri, func(l *libvirt.Libvirt) ([]Checkpoint, error) {
		dom, err := l.DomainLookupByName(domain)
		if err != nil {
			return nil, err
		}
		handles, _, err := l.DomainListAllCheckpoints(dom, 1, uint32(libvirt.DomainCheckpointListTopological))
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		out := make([]Checkpoint, 0, len(handles))
		for _, h := range handles {
			cp, err := describeCheckpoint(l, h)
			if IsNotFound(err) {
				continue // deleted since the listing
			}
			if err != nil {
				return nil, err
			}
			out = append(out, cp)
		}
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoints of domain %s on %s: %w", domain, uri, err)
	}
	return cps, nil
}

func describeCheckpoint(l *libvirt.Libvirt, h libvirt.DomainCheckpoint) (Checkpoint, error) {
	x, err := l.DomainCheckpointGetXMLDesc(h, uint32(libvirt.DomainCheckpointXMLNoDomain))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %s XML: %w", h.Name, err)
	}
	var def libvirtxml.DomainCheckpoint
	if err := def.Unmarshal(x); err != nil {
		return Checkpoint{}, fmt.Errorf("parse checkpoint %s XML: %w", h.Name, err)
	}
	cp := Checkpoint{Name: def.Name}
	if def.Parent != nil {
		cp.Parent = def.Parent.Name
	}
	if secs, err := strconv.ParseInt(def.CreationTime, 10, 64); err == nil {
		cp.Created = time.Unix(secs, 0).UTC()
	}
	if def.Disks != nil {
		for _, d := range def.Disks.Disks {
			if d.Checkpoint == "bitmap" {
				cp.Disks = append(cp.Disks, d.Name)
			}
		}
	}
	return cp, nil
}

// DeleteCheckpoint deletes a checkpoint of the domain. A checkpoint that
// does not exist is not an error. libvirt merges the checkpoint's dirty
// bitmap into its parent's, so no record of a change is lost: an
// incremental copy from the parent still covers everything written since
// the parent. After a successful replication run the caller deletes the
// checkpoint the run started from (keeping only the newest one); after a
// failed run, Replicate has already deleted the checkpoint it made.
func (m *Manager) DeleteCheckpoint(ctx context.Context, uri, domain, name string) error {
	_, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		dom, err := l.DomainLookupByName(domain)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, deleteCheckpoint(l, dom, name)
	})
	if err != nil {
		return fmt.Errorf("delete checkpoint %s of domain %s on %s: %w", name, domain, uri, err)
	}
	return nil
}

func deleteCheckpoint(l *libvirt.Libvirt, dom libvirt.Domain, name string) error {
	cp, err := l.DomainCheckpointLookupByName(dom, name, 0)
	if hasCode(err, libvirt.ErrNoDomainCheckpoint) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up: %w", err)
	}
	if err := l.DomainCheckpointDelete(cp, 0); err != nil && !hasCode(err, libvirt.ErrNoDomainCheckpoint) {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

func checkpointExists(l *libvirt.Libvirt, dom libvirt.Domain, name string) (bool, error) {
	_, err := l.DomainCheckpointLookupByName(dom, name, 0)
	if hasCode(err, libvirt.ErrNoDomainCheckpoint) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up checkpoint %s: %w", name, err)
	}
	return true, nil
}

// pullBackup is what a pull-mode backup job exports: one disk of a running
// domain, as it was when the job began.
type pullBackup struct {
	disk        string // target name, e.g. "vda"; also the NBD export name
	from        string // "" for a full export, else the checkpoint of an incremental one
	checkpoint  string // "" for none, else the checkpoint created with the job
	host        string // the NBD server's address on the source host
	port        int
	scratchFile string // "" for one next to the disk's file
}

// bitmapContext is the NBD meta context of an incremental export's dirty
// bitmap (libvirt names the exported bitmap backup-<disk>).
func (b pullBackup) bitmapContext() string { return "qemu:dirty-bitmap:backup-" + b.disk }

// xml renders the backup and checkpoint definitions. Every other disk of
// the domain is named with backup='no' and checkpoint='no': left out, libvirt
// would back up (and create bitmaps for) all of them.
func (b pullBackup) xml(disks []string) (backupXML, checkpointXML string, err error) {
	backup := libvirtxml.DomainBackup{
		Incremental: b.from,
		Pull: &libvirtxml.DomainBackupPull{
			Server: &libvirtxml.DomainBackupPullServer{
				TCP: &libvirtxml.DomainBackupPullServerTCP{Name: b.host, Port: uint(b.port)},
			},
			Disks: &libvirtxml.DomainBackupPullDisks{},
		},
	}
	var cp *libvirtxml.DomainCheckpoint
	if b.checkpoint != "" {
		cp = &libvirtxml.DomainCheckpoint{Name: b.checkpoint, Disks: &libvirtxml.DomainCheckpointDisks{}}
	}
	for _, d := range disks {
		if d != b.disk {
			backup.Pull.Disks.Disks = append(backup.Pull.Disks.Disks, libvirtxml.DomainBackupPullDisk{Name: d, Backup: "no"})
			if cp != nil {
				cp.Disks.Disks = append(cp.Disks.Disks, libvirtxml.DomainCheckpointDisk{Name: d, Checkpoint: "no"})
			}
			continue
		}
		// backup='yes' is the default, and the schema wants it only
		// together with a scratch file's type.
		pd := libvirtxml.DomainBackupPullDisk{Name: d, ExportName: d}
		if b.scratchFile != "" {
			pd.Backup = "yes"
			pd.Scratch = &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: b.scratchFile}}
		}
		backup.Pull.Disks.Disks = append(backup.Pull.Disks.Disks, pd)
		if cp != nil {
			cp.Disks.Disks = append(cp.Disks.Disks, libvirtxml.DomainCheckpointDisk{Name: d, Checkpoint: "bitmap"})
		}
	}
	if backupXML, err = backup.Marshal(); err != nil {
		return "", "", fmt.Errorf("backup XML: %w", err)
	}
	if cp != nil {
		if checkpointXML, err = cp.Marshal(); err != nil {
			return "", "", fmt.Errorf("checkpoint XML: %w", err)
		}
	}
	return backupXML, checkpointXML, nil
}

// backupDisks returns the target names of the domain's disks and the file
// of disk, and checks that disk is among them and can be backed up: a
// writable qcow2 disk backed by a file (not a CD-ROM).
func backupDisks(l *libvirt.Libvirt, dom libvirt.Domain, disk string) (names []string, file string, err error) {
	x, err := l.DomainGetXMLDesc(dom, 0)
	if err != nil {
		return nil, "", fmt.Errorf("domain XML: %w", err)
	}
	var def libvirtxml.Domain
	if err := def.Unmarshal(x); err != nil {
		return nil, "", fmt.Errorf("parse domain XML: %w", err)
	}
	found := false
	if def.Devices != nil {
		for _, d := range def.Devices.Disks {
			if d.Target == nil {
				continue
			}
			names = append(names, d.Target.Dev)
			if d.Target.Dev != disk {
				continue
			}
			found = true
			if d.Device == "cdrom" || d.Device == "floppy" || d.ReadOnly != nil {
				return nil, "", fmt.Errorf("disk %s is read-only (%s): nothing to replicate", disk, d.Device)
			}
			if d.Driver == nil || d.Driver.Type != "qcow2" {
				return nil, "", fmt.Errorf("disk %s is not qcow2: checkpoints need dirty bitmaps in a qcow2 v3 file", disk)
			}
			if d.Source == nil || d.Source.File == nil || d.Source.File.File == "" {
				return nil, "", fmt.Errorf("disk %s is not backed by a file", disk)
			}
			file = d.Source.File.File
		}
	}
	if !found {
		return nil, "", fmt.Errorf("domain has no disk %s (it has %s)", disk, strings.Join(names, ", "))
	}
	slices.Sort(names)
	return names, file, nil
}
