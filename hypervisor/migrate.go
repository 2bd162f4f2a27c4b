package hypervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// MigrateOptions tune Migrate.
type MigrateOptions struct {
	// CopyStorage copies the guest's local disks along
	// (VIR_MIGRATE_NON_SHARED_DISK); the target pool must hold volumes of
	// the same names. Without it the disks must be shared (or absent).
	CopyStorage bool
	// Incremental copies only the top image of each copied disk
	// (VIR_MIGRATE_NON_SHARED_INC): the target's volume must exist already,
	// backed by a copy of everything below. It implies copying storage.
	Incremental bool
	// Disks limits the copied disks to these targets ("vda"); empty copies
	// every writable one.
	Disks []string
	// DestXML is the definition the guest gets on the target (paths there);
	// empty keeps the source's.
	DestXML string
}

// MigrationStats is what libvirt reports about a finished migration.
// Durations libvirt does not report are zero.
type MigrationStats struct {
	Wall     time.Duration // the Migrate call as seen from here
	Job      time.Duration // libvirt's time_elapsed of the migration job
	Downtime time.Duration // how long the guest was paused for the switch
	Bytes    uint64        // data_total: bytes moved
	// DiskBytes is disk_transferred: bytes of disks copied (with
	// CopyStorage or Incremental); memory is the rest of Bytes.
	DiskBytes uint64
}

// Migrate live-migrates the running guest name from the host at srcURI to
// the one at dstURI, peer to peer: the source libvirtd connects to dstURI
// itself, so dstURI must be a URI the source daemon can reach (for a rig,
// the target's qemu+tcp://127.0.0.1:PORT/system), and the two hosts must
// have different host UUIDs. The guest becomes persistent on the target and
// is undefined on the source (VIR_MIGRATE_LIVE | PEER2PEER | PERSIST_DEST |
// UNDEFINE_SOURCE).
//
// Unlike most Manager methods the migration is not retried when the
// connection to the source breaks. If ctx ends first, Migrate asks the
// source to abort the migration job and returns ctx.Err(); libvirt then
// leaves the guest running on the source.
func (m *Manager) Migrate(ctx context.Context, srcURI, dstURI, name string, opts MigrateOptions) (MigrationStats, error) {
	var st MigrationStats
	h, err := m.host(srcURI)
	if err != nil {
		return st, err
	}
	if err := ValidateURI(dstURI); err != nil {
		return st, fmt.Errorf("migrate %s: target: %w", name, err)
	}
	s, err := m.session(ctx, h)
	if err != nil {
		return st, err
	}
	dom, err := s.l.DomainLookupByName(name)
	if err != nil {
		return st, fmt.Errorf("migrate %s: look it up on %s: %w", name, srcURI, err)
	}
	flags := libvirt.MigrateLive | libvirt.MigratePeer2peer | libvirt.MigratePersistDest | libvirt.MigrateUndefineSource
	if opts.Incremental {
		flags |= libvirt.MigrateNonSharedInc
	} else if opts.CopyStorage {
		flags |= libvirt.MigrateNonSharedDisk
	}
	var params []libvirt.TypedParam
	if opts.DestXML != "" {
		params = append(params, libvirt.TypedParam{Field: "destination_xml", Value: *libvirt.NewTypedParamValueString(opts.DestXML)},
			libvirt.TypedParam{Field: "persistent_xml", Value: *libvirt.NewTypedParamValueString(opts.DestXML)})
	}
	for _, d := range opts.Disks {
		params = append(params, libvirt.TypedParam{Field: "migrate_disks", Value: *libvirt.NewTypedParamValueString(d)})
	}
	start := time.Now()
	_, err = runCtx(ctx, func() ([]byte, error) {
		return s.l.DomainMigratePerform3Params(dom, libvirt.OptString{dstURI}, params, nil, flags)
	})
	st.Wall = time.Since(start)
	if ctx.Err() != nil {
		// The call goes on in libvirtd: stop it there.
		if aerr := s.l.DomainAbortJob(dom); aerr != nil {
			m.log.Warn("aborting the migration job failed", "domain", name, "uri", srcURI, "err", aerr)
		}
		return st, fmt.Errorf("migrate %s to %s: %w", name, dstURI, ctx.Err())
	}
	if err != nil {
		return st, fmt.Errorf("migrate %s from %s to %s: %w", name, srcURI, dstURI, err)
	}
	// The source has undefined the guest; the target keeps the stats of
	// the incoming migration as its last completed job.
	if js, err := call(ctx, m, dstURI, func(l *libvirt.Libvirt) (MigrationStats, error) {
		d, err := l.DomainLookupByName(name)
		if err != nil {
			return MigrationStats{}, err
		}
		_, params, err := l.DomainGetJobStats(d, libvirt.DomainJobStatsCompleted)
		if err != nil {
			return MigrationStats{}, err
		}
		return jobStats(params), nil
	}); err != nil {
		m.log.Warn("migration done, but its statistics are unavailable", "domain", name, "uri", dstURI, "err", err)
	} else {
		st.Job, st.Downtime, st.Bytes, st.DiskBytes = js.Job, js.Downtime, js.Bytes, js.DiskBytes
	}
	return st, nil
}

// jobStats picks the fields MigrationStats has from a job's typed params.
func jobStats(params []libvirt.TypedParam) MigrationStats {
	var st MigrationStats
	for _, p := range params {
		v, ok := p.Value.I.(uint64)
		if !ok {
			continue
		}
		switch p.Field {
		case "time_elapsed":
			st.Job = time.Duration(v) * time.Millisecond
		case "downtime":
			st.Downtime = time.Duration(v) * time.Millisecond
		case "data_total":
			st.Bytes = v
		case "disk_transferred":
			st.DiskBytes = v
		}
	}
	return st
}
