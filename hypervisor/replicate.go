package hypervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"allmende/hypervisor/nbd"
)

// Replication of a running guest's disk (issue 10), the disk-data path.
//
// A run takes its copy from a point in time without pausing the guest: it
// begins a pull-mode backup job (virDomainBackupBegin), which makes QEMU
// export the disk as it was at that instant over NBD (the guest's later
// writes go on, the old data of the blocks they overwrite goes to a scratch
// file), and in the same QMP transaction creates a new checkpoint, whose
// dirty bitmap records the guest's writes from that instant on. The run
// then reads from the export only what it must send: for a full copy the
// ranges that hold data (base:allocation), for an incremental one the
// ranges the bitmap of the previous checkpoint marks as changed. It streams
// them through libvirt's remote API into a raw volume on the replica host
// (virStorageVolUpload with offset and length), never holding more than a
// few chunks in memory, keeps a checksum of every chunk it sent, downloads
// the same ranges back from the replica (virStorageVolDownload) and
// compares, and only then ends the job and reports success.
//
// Failure and retry. A run that fails or is interrupted at any point aborts
// its job and deletes the checkpoint it created, so the checkpoint it
// started from (FROM) stays the newest one, and the caller keeps FROM as
// the base of the next run: it never advances to the new checkpoint unless
// Replicate returned success. The replica may meanwhile be partly
// overwritten (ranges of the failed run's point in time): it is "dirty"
// relative to FROM and must not be used as a good copy of FROM's point in
// time. The next incremental run from FROM repairs it, because every range
// the failed run wrote was dirty in FROM's bitmap at the failed run's
// point in time T1, and a later run at T2 sends the ranges dirty between
// FROM and T2, a superset: libvirt's dirty bitmaps only ever gain bits
// until their checkpoint is deleted, and deleting the failed run's
// checkpoint merges its bitmap (writes after T1) into FROM's. Even a
// checkpoint that could not be deleted (the host was unreachable) does no
// harm: an incremental backup from FROM merges the bitmaps of FROM and all
// its descendants (libvirt's documented behaviour; e2e/crash's
// TestReplicationPortalKilledMidRun relies on it: the killed run's
// checkpoint stays, and the next run from FROM still brings the replica to
// equal). A caller that wants a replica it can fail over to at every
// moment writes into a staging volume (below) rather than the replica.
// TestReplicate checks this path on a real guest: a run cancelled mid-copy
// while the guest writes elsewhere, then the catch-up run from FROM.
//
// A full copy (FromCheckpoint "") recreates the target volume, empty and
// sparse, before it writes: ranges that read as zeros are not sent, so old
// data must not be left under them.
//
// Staging. To keep the last good replica intact whatever happens to the
// run (the portal killed mid-copy, a broken connection, a failed check),
// a run may write into a staging volume instead (ReplicateRequest.Staging:
// recreated empty and sparse, at the same offsets as the replica), verify
// it there, and report the ranges it sent; ApplyStaged then copies those
// ranges from the staging volume into the replica on the same host and
// verifies them. Until the caller has recorded that the staging volume is
// complete, the replica is untouched; after that, an interrupted apply is
// simply done again (it only reads the staging volume, which stays until
// the next run recreates it), so the replica reaches the new point in time
// even if the portal dies while applying.

// ErrReplicaUntouched marks a failed run that ended before it opened (or
// recreated) the replica volume: the last good copy there still holds, and
// a failover may start from it.
var ErrReplicaUntouched = errors.New("the replica was not written")

// Defaults of a replication run.
const (
	// replicateChunk is the unit of reading, uploading and checksumming.
	replicateChunk = 4 << 20
	// exportTimeout bounds the calls that set a backup job up or tear it
	// down; they run to completion even when the caller's context ends, so
	// that no job or checkpoint is left in an unknown state.
	exportTimeout = 2 * time.Minute
)

// ReplicaTarget is a raw volume on the replica host.
type ReplicaTarget struct {
	URI, Pool, Volume string
}

// ReplicateRequest describes one replication run.
type ReplicateRequest struct {
	SourceURI string // the host running the guest
	Domain    string
	Disk      string // target name of a qcow2 v3 disk, e.g. "vda"
	Target    ReplicaTarget

	// FromCheckpoint is the checkpoint of the last good run; "" makes a
	// full copy. If it does not exist (any more), Replicate fails with
	// ErrNoCheckpoint and the caller falls back to a full copy.
	FromCheckpoint string
	// NewCheckpoint is the checkpoint this run creates: the base of the
	// next run if this one succeeds. A checkpoint of that name left over
	// from an earlier failed attempt is deleted first.
	NewCheckpoint string

	// NBDHost and NBDPort are where the source host's QEMU serves the
	// export. The default host is 127.0.0.1 (the portal runs on the source
	// host, or reaches it through a tunnel); with port 0 a free local port
	// is picked, which is only right when the source host is this machine.
	NBDHost string
	NBDPort int
	// ScratchDir is where QEMU keeps the old data of blocks the guest
	// overwrites during the run (on the source host); "" puts the scratch
	// file next to the disk's file. libvirt removes it when the job ends.
	ScratchDir string
	// CompareFull also compares the whole replica with the export, byte
	// for byte, before the run succeeds (reads the whole virtual disk and
	// downloads the whole replica).
	CompareFull bool
	// Staging, if set, is a volume in Target.Pool on the target host that
	// the run writes into instead of Target.Volume, which it leaves as it
	// is (see "Staging" at the top of this file): the ranges sent are in
	// the result, for ApplyStaged.
	Staging string
}

// ReplicateResult is what a successful run did.
type ReplicateResult struct {
	Full       bool   // a full copy (no FromCheckpoint)
	Checkpoint string // the new checkpoint: FromCheckpoint of the next run
	DiskBytes  uint64 // the disk's virtual size
	BytesSent  uint64 // data uploaded to the replica
	Extents    uint64 // ranges uploaded
	Duration   time.Duration
	Copy       time.Duration // reading and uploading
	Verify     time.Duration // downloading the sent ranges back (and the full comparison)
	SourceWait time.Duration // of Copy, the uploads waited for data from the export
	Verified   bool          // checksums of every sent range matched the replica
	Compared   bool          // the whole replica was compared equal (CompareFull)
	// Ranges are the ranges sent (into the staging volume, if any).
	Ranges []nbd.Range
}

// Replicate copies one disk of a running domain into a raw volume on the
// replica host, fully or incrementally (see the comment at the top of this
// file for the method, and for what a failed run means for the replica).
// One run per domain at a time: a backup job still running on the domain
// when a run starts is taken to be left over from a crashed run and is
// aborted.
func (m *Manager) Replicate(ctx context.Context, req ReplicateRequest) (ReplicateResult, error) {
	var touched bool
	res, err := m.replicate(ctx, req, &touched)
	if err != nil && !touched {
		err = fmt.Errorf("%w: %w", ErrReplicaUntouched, err)
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// A call cut off by the cancellation fails with libvirt's own
		// "procedure interrupted" error; callers ask whether the run
		// was cancelled, so say so.
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	if err != nil {
		return res, fmt.Errorf("replicate disk %s of domain %s on %s to %s/%s on %s: %w",
			req.Disk, req.Domain, req.SourceURI, req.Target.Pool, req.Target.Volume, req.Target.URI, err)
	}
	return res, nil
}

func (req ReplicateRequest) check() error {
	switch {
	case req.SourceURI == "" || req.Domain == "" || req.Disk == "":
		return errors.New("source URI, domain and disk are required")
	case req.Target.URI == "" || req.Target.Pool == "":
		return errors.New("target URI and pool are required")
	case req.FromCheckpoint != "" && req.FromCheckpoint == req.NewCheckpoint:
		return errors.New("the new checkpoint must differ from the one the run starts from")
	}
	if err := checkVolumeName(req.Target.Volume); err != nil {
		return err
	}
	if req.Staging != "" {
		if err := checkVolumeName(req.Staging); err != nil {
			return err
		}
		if req.Staging == req.Target.Volume {
			return errors.New("the staging volume must differ from the replica")
		}
		if req.CompareFull {
			return errors.New("a staged run cannot compare the whole replica: compare after ApplyStaged (CompareReplica)")
		}
	}
	if err := checkCheckpointName(req.NewCheckpoint); err != nil {
		return err
	}
	if req.FromCheckpoint != "" {
		if err := checkCheckpointName(req.FromCheckpoint); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) replicate(ctx context.Context, req ReplicateRequest, touched *bool) (res ReplicateResult, err error) {
	if err := req.check(); err != nil {
		return res, err
	}
	start := time.Now()
	res.Full = req.FromCheckpoint == ""

	b := pullBackup{disk: req.Disk, from: req.FromCheckpoint, checkpoint: req.NewCheckpoint, host: req.NBDHost, port: req.NBDPort}
	if req.ScratchDir != "" {
		b.scratchFile = filepath.Join(req.ScratchDir, req.Domain+"-"+req.Disk+"-"+req.NewCheckpoint+".scratch")
	}
	ex, err := m.beginExport(ctx, req.SourceURI, req.Domain, b)
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			ex.abandon()
		}
	}()
	res.DiskBytes = ex.c.Size()

	// What to send.
	var ranges []nbd.Range
	if res.Full {
		ext, err := ex.c.BlockStatus(ctx, nbd.ContextAllocation, 0, res.DiskBytes)
		if err != nil {
			return res, fmt.Errorf("allocation of the export: %w", err)
		}
		// Only STATE_ZERO promises zeros; a hole without it may read as
		// anything (NBD's doc/proto.md), so it is sent like data.
		ranges = nbd.Select(ext, func(flags uint32) bool { return flags&nbd.StateZero == 0 })
	} else {
		ext, err := ex.c.BlockStatus(ctx, b.bitmapContext(), 0, res.DiskBytes)
		if err != nil {
			return res, fmt.Errorf("dirty bitmap of the export: %w", err)
		}
		// Dirty ranges that now read as zeros (discarded) are sent too:
		// the replica still holds their old data.
		ranges = nbd.Dirty(ext)
	}
	for _, r := range ranges {
		if r.End() > res.DiskBytes || r.End() < r.Offset {
			return res, fmt.Errorf("range [%d, +%d) beyond the disk's %d bytes", r.Offset, r.Length, res.DiskBytes)
		}
	}

	into := req.Target
	if req.Staging != "" {
		// The replica must take the ranges later: an incremental one must
		// be there, raw and of the disk's size (a full one is recreated).
		if !res.Full {
			t, err := m.openReplica(ctx, req.Target, res.DiskBytes, false)
			if err != nil {
				return res, err
			}
			t.close()
		}
		into.Volume = req.Staging
	} else {
		*touched = true // from here on the replica may change (a full copy recreates it first)
	}
	t, err := m.openReplica(ctx, into, res.DiskBytes, res.Full || req.Staging != "")
	if err != nil {
		return res, err
	}
	defer t.close()

	copyStart := time.Now()
	sums, err := t.upload(ctx, ex.c, ranges)
	if err != nil {
		return res, err
	}
	res.Copy = time.Since(copyStart)
	res.SourceWait = t.sourceWait
	res.BytesSent = nbd.Total(ranges)
	res.Extents = uint64(len(ranges))
	res.Ranges = ranges

	verifyStart := time.Now()
	if err := t.verify(ctx, sums); err != nil {
		return res, err
	}
	res.Verified = true
	if req.CompareFull {
		eq, diff, err := t.compare(ctx, ex.c)
		if err != nil {
			return res, err
		}
		if !eq {
			return res, fmt.Errorf("the replica differs from the source from byte %d on", diff)
		}
		res.Compared = true
	}
	res.Verify = time.Since(verifyStart)

	if err := ex.end(ctx); err != nil {
		return res, err
	}
	res.Checkpoint = req.NewCheckpoint
	res.Duration = time.Since(start)
	m.log.Info("replicated disk", "domain", req.Domain, "disk", req.Disk, "full", res.Full,
		"from", req.FromCheckpoint, "checkpoint", res.Checkpoint, "bytes_sent", res.BytesSent,
		"extents", res.Extents, "copy", res.Copy, "source_wait", res.SourceWait, "verify", res.Verify, "took", res.Duration)
	return res, nil
}

// CompareRequest names a disk of a running domain and its replica.
type CompareRequest struct {
	SourceURI, Domain, Disk string
	Target                  ReplicaTarget
	NBDHost                 string // as in ReplicateRequest
	NBDPort                 int
	ScratchDir              string
}

// CompareReplica compares the whole replica volume with the disk as it is
// now (a point-in-time export of a pull-mode backup without checkpoint),
// byte for byte. firstDiff is the offset of the first differing byte (-1 if
// equal); a replica of another size differs at the smaller size. Guest
// writes since the last run are differences too: compare a guest that does
// not write, or use ReplicateRequest.CompareFull, which compares at the
// run's own point in time.
func (m *Manager) CompareReplica(ctx context.Context, req CompareRequest) (equal bool, firstDiff int64, err error) {
	equal, firstDiff, err = m.compareReplica(ctx, req)
	if err != nil {
		return false, -1, fmt.Errorf("compare disk %s of domain %s on %s with %s/%s on %s: %w",
			req.Disk, req.Domain, req.SourceURI, req.Target.Pool, req.Target.Volume, req.Target.URI, err)
	}
	return equal, firstDiff, nil
}

func (m *Manager) compareReplica(ctx context.Context, req CompareRequest) (bool, int64, error) {
	if req.SourceURI == "" || req.Domain == "" || req.Disk == "" || req.Target.URI == "" || req.Target.Pool == "" {
		return false, -1, errors.New("source URI, domain, disk, target URI and pool are required")
	}
	if err := checkVolumeName(req.Target.Volume); err != nil {
		return false, -1, err
	}
	b := pullBackup{disk: req.Disk, host: req.NBDHost, port: req.NBDPort}
	if req.ScratchDir != "" {
		b.scratchFile = filepath.Join(req.ScratchDir, req.Domain+"-"+req.Disk+"-compare.scratch")
	}
	ex, err := m.beginExport(ctx, req.SourceURI, req.Domain, b)
	if err != nil {
		return false, -1, err
	}
	size := ex.c.Size()
	eq, diff, err := func() (bool, int64, error) {
		info, err := m.VolumeInfo(ctx, req.Target.URI, req.Target.Pool, req.Target.Volume)
		if err != nil {
			return false, -1, err
		}
		if info.CapacityBytes != size {
			return false, int64(min(info.CapacityBytes, size)), nil
		}
		t, err := m.openReplica(ctx, req.Target, size, false)
		if err != nil {
			return false, -1, err
		}
		defer t.close()
		return t.compare(ctx, ex.c)
	}()
	if err != nil {
		ex.abandon()
		return false, -1, err
	}
	if err := ex.end(ctx); err != nil {
		return false, -1, err
	}
	return eq, diff, nil
}

// --- the source side: a pull-mode backup job and its NBD export ---

// export is a running pull-mode backup job and a client of its NBD export.
type export struct {
	m      *Manager
	uri    string
	domain string
	b      pullBackup
	c      *nbd.Client
}

// beginExport aborts a backup job left over on the domain, deletes a
// leftover checkpoint of the name the job will create, begins the job and
// connects to its export.
func (m *Manager) beginExport(ctx context.Context, uri, domain string, b pullBackup) (*export, error) {
	if b.host == "" {
		b.host = "127.0.0.1"
	}
	if b.port == 0 {
		p, err := freePort(b.host)
		if err != nil {
			return nil, fmt.Errorf("pick a port for the NBD export: %w", err)
		}
		b.port = p
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("aborted: %w", err)
	}
	// Setting up runs to its end even if ctx ends: an abandoned
	// BackupBegin could otherwise create a job after we cleaned up.
	setup, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportTimeout)
	defer cancel()
	_, err := call(setup, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		return struct{}{}, m.beginBackup(l, uri, domain, b)
	})
	if err != nil {
		return nil, fmt.Errorf("begin backup job of domain %s on %s: %w", domain, uri, err)
	}
	ex := &export{m: m, uri: uri, domain: domain, b: b}
	if err := ctx.Err(); err != nil {
		ex.abandon()
		return nil, fmt.Errorf("aborted: %w", err)
	}
	contexts := []string{nbd.ContextAllocation}
	if b.from != "" {
		contexts = append(contexts, b.bitmapContext())
	}
	ex.c, err = dialExport(ctx, net.JoinHostPort(b.host, strconv.Itoa(b.port)), b.disk, contexts)
	if err != nil {
		ex.abandon()
		return nil, err
	}
	return ex, nil
}

func (m *Manager) beginBackup(l *libvirt.Libvirt, uri, domain string, b pullBackup) error {
	dom, err := l.DomainLookupByName(domain)
	if err != nil {
		return err
	}
	active, err := domainActive(l, dom)
	if err != nil {
		return err
	}
	if !active {
		return ErrDomainNotRunning
	}
	disks, file, err := backupDisks(l, dom, b.disk)
	if err != nil {
		return err
	}
	if b.scratchFile == "" {
		// libvirt 9 has no default for a pull-mode job's scratch file.
		// Next to the disk QEMU may write, and there is room for the
		// disk's data; the job removes it when it ends.
		name := "scratch"
		if b.checkpoint != "" {
			name = b.checkpoint
		}
		b.scratchFile = file + "." + name + ".scratch"
	}
	if b.from != "" {
		ok, err := checkpointExists(l, dom, b.from)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrNoCheckpoint, b.from)
		}
	}
	if err := abortStaleBackup(l, dom); err != nil {
		return err
	}
	if b.checkpoint != "" {
		if ok, err := checkpointExists(l, dom, b.checkpoint); err != nil {
			return err
		} else if ok {
			m.log.Warn("deleting a checkpoint left over from a failed replication run", "uri", uri, "domain", domain, "checkpoint", b.checkpoint)
			if err := deleteCheckpoint(l, dom, b.checkpoint); err != nil {
				return fmt.Errorf("leftover checkpoint %s: %w", b.checkpoint, err)
			}
		}
	}
	backupXML, checkpointXML, err := b.xml(disks)
	if err != nil {
		return err
	}
	var cp libvirt.OptString
	if checkpointXML != "" {
		cp = libvirt.OptString{checkpointXML}
	}
	if err := l.DomainBackupBegin(dom, backupXML, cp, 0); err != nil {
		return fmt.Errorf("backup begin: %w", err)
	}
	return nil
}

// abortStaleBackup ends a backup job running on the domain and waits until
// it is gone.
func abortStaleBackup(l *libvirt.Libvirt, dom libvirt.Domain) error {
	if _, err := l.DomainBackupGetXMLDesc(dom, 0); hasCode(err, libvirt.ErrNoDomainBackup) {
		return nil
	} else if err != nil {
		return fmt.Errorf("backup job: %w", err)
	}
	return endBackup(l, dom)
}

// endBackup ends the domain's backup job (DomainAbortJob is how a pull-mode
// job ends; libvirt reports it as completed and removes the scratch file)
// and waits until libvirt no longer knows it, so that the next job can
// begin at once.
func endBackup(l *libvirt.Libvirt, dom libvirt.Domain) error {
	if err := l.DomainAbortJob(dom); err != nil && !hasCode(err, libvirt.ErrOperationInvalid, libvirt.ErrNoDomainBackup) {
		return fmt.Errorf("end backup job: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := l.DomainBackupGetXMLDesc(dom, 0)
		if hasCode(err, libvirt.ErrNoDomainBackup) || IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("backup job: %w", err)
		}
		if time.Now().After(deadline) {
			return errors.New("backup job still running 30 s after it was aborted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// end closes the NBD client and ends the job; the new checkpoint stays.
func (ex *export) end(ctx context.Context) error {
	_ = ex.c.Close()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportTimeout)
	defer cancel()
	_, err := call(cctx, ex.m, ex.uri, func(l *libvirt.Libvirt) (struct{}, error) {
		dom, err := l.DomainLookupByName(ex.domain)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, endBackup(l, dom)
	})
	if err != nil {
		return fmt.Errorf("domain %s on %s: %w", ex.domain, ex.uri, err)
	}
	return nil
}

// abandon undoes a failed run on the source: it ends the job and deletes
// the checkpoint the job created, so that the run's base checkpoint is the
// newest again. Best effort, on a context of its own (the caller's may be
// what ended the run); what it cannot undo, the next run's beginExport
// does.
func (ex *export) abandon() {
	if ex.c != nil {
		_ = ex.c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	defer cancel()
	_, err := call(ctx, ex.m, ex.uri, func(l *libvirt.Libvirt) (struct{}, error) {
		dom, err := l.DomainLookupByName(ex.domain)
		if err != nil {
			return struct{}{}, err
		}
		if err := abortStaleBackup(l, dom); err != nil {
			return struct{}{}, err
		}
		if ex.b.checkpoint == "" {
			return struct{}{}, nil
		}
		return struct{}{}, deleteCheckpoint(l, dom, ex.b.checkpoint)
	})
	if err != nil {
		ex.m.log.Warn("could not undo a failed replication run; the next run will", "uri", ex.uri,
			"domain", ex.domain, "checkpoint", ex.b.checkpoint, "err", err)
	}
}

// dialExport connects to the export, retrying briefly: QEMU serves it once
// BackupBegin has returned, but give a loaded host a moment.
func dialExport(ctx context.Context, addr, export string, contexts []string) (*nbd.Client, error) {
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		c, err := nbd.Dial(ctx, "tcp", addr, export, contexts...)
		if err == nil {
			return c, nil
		}
		lastErr = err
		var nerr *net.OpError
		if !errors.As(err, &nerr) || ctx.Err() != nil {
			break // not a connection failure: retrying will not help
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("connect to the export %s at %s: %w", export, addr, lastErr)
}

// freePort asks the kernel for a free TCP port on host.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// --- the replica side: a raw volume written and read by streams ---

// replica is the target volume and a connection of its own for its
// streams, closed when ctx ends (go-libvirt streams take no context).
type replica struct {
	s     *session
	close func() // idempotent
	vol   libvirt.StorageVol
	size  uint64
	// sourceWait is how long uploads waited for data from their source:
	// near the copy's time, the source is the bottleneck; near 0, libvirt.
	sourceWait time.Duration
}

// openReplica opens a dedicated connection to the target host and checks
// the volume: a full copy recreates it (raw, sparse, size bytes), an
// incremental one needs it raw and of that size.
func (m *Manager) openReplica(ctx context.Context, t ReplicaTarget, size uint64, recreate bool) (*replica, error) {
	s, err := m.dedicatedSession(ctx, t.URI)
	if err != nil {
		return nil, fmt.Errorf("replica host %s: %w", t.URI, err)
	}
	closeOnce := sync.OnceFunc(s.close)
	stop := context.AfterFunc(ctx, closeOnce)
	r := &replica{s: s, size: size, close: func() { stop(); closeOnce() }}
	r.vol, err = runCtx(ctx, func() (libvirt.StorageVol, error) {
		if recreate {
			if err := createSparseRaw(s.l, t.Pool, t.Volume, size); err != nil {
				return libvirt.StorageVol{}, err
			}
		}
		v, err := lookupVolume(s.l, t.Pool, t.Volume)
		if err != nil {
			return v, err
		}
		info, err := describeVolume(s.l, v)
		if err != nil {
			return v, err
		}
		if info.Format != "raw" {
			return v, fmt.Errorf("volume has format %q, want raw", info.Format)
		}
		if info.CapacityBytes != size {
			return v, fmt.Errorf("volume has %d bytes, the disk %d: the disk was resized; make a full copy", info.CapacityBytes, size)
		}
		return v, nil
	})
	if err != nil {
		r.close()
		return nil, fmt.Errorf("replica volume %s/%s on %s: %w", t.Pool, t.Volume, t.URI, err)
	}
	return r, nil
}

// createSparseRaw (re)creates an empty raw volume. Allocation 0 asks for a
// sparse file (the test checks that the replica stays sparse).
func createSparseRaw(l *libvirt.Libvirt, pool, name string, size uint64) error {
	if err := deleteVolume(l, pool, name); err != nil {
		return err
	}
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	x, err := (&libvirtxml.StorageVolume{
		Name:       name,
		Capacity:   &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: size},
		Allocation: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: 0},
		Target:     &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "raw"}},
	}).Marshal()
	if err != nil {
		return fmt.Errorf("volume XML: %w", err)
	}
	if _, err := l.StorageVolCreateXML(p, x, 0); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	return nil
}

// rangeReader is where upload reads what it sends: the export (an
// *nbd.Client), or a staging volume (volumeReader).
type rangeReader interface {
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
}

// testHookChunkRead, if set (by tests only), is called after each chunk
// was read from the export.
var testHookChunkRead func(off uint64)

// chunkSum is the checksum of one chunk that was sent: XXH64, which finds
// what verification is for (a write lost, misplaced or damaged on its way
// through libvirtd into the file) as surely as SHA-256 does, with a chance
// of 2^-64 per chunk to miss a random change, at a fraction of the CPU:
// every byte is hashed twice, once read and once downloaded back, and on
// a busy 2-core host SHA-256 was a fifth of the copy's CPU time in this
// process (repbench -cpuprofile). It is no defence against someone who
// crafts data on purpose, and needs none: the data comes from the guest's
// own disk.
type chunkSum struct {
	off uint64
	n   uint32
	sum uint64
}

// chunk is data read from the export, on its way to the replica.
type chunk struct {
	off uint64
	buf []byte
}

// chunks splits a range into the pieces read, sent and checksummed.
func chunks(r nbd.Range, fn func(off, n uint64) error) error {
	for off := r.Offset; off < r.End(); off += replicateChunk {
		if err := fn(off, min(replicateChunk, r.End()-off)); err != nil {
			return err
		}
	}
	return nil
}

// upload sends the ranges from the export into the replica, one upload
// stream per range. A reader goroutine reads (and checksums) the next chunks
// from the export while the current one is uploaded; a few buffers go round
// between the two, so memory stays bounded whatever the size of the disk.
func (r *replica) upload(ctx context.Context, c rangeReader, ranges []nbd.Range) ([]chunkSum, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	const buffers = 3
	free := make(chan []byte, buffers)
	for range buffers {
		free <- make([]byte, replicateChunk)
	}
	full := make(chan chunk, buffers)
	var sums []chunkSum
	readErr := make(chan error, 1)
	go func() {
		defer close(full)
		for _, rg := range ranges {
			err := chunks(rg, func(off, n uint64) error {
				var buf []byte
				select {
				case buf = <-free:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
				buf = buf[:n]
				if _, err := c.ReadAtContext(ctx, buf, int64(off)); err != nil {
					return fmt.Errorf("read [%d, +%d) from the export: %w", off, n, err)
				}
				sums = append(sums, chunkSum{off: off, n: uint32(n), sum: xxhash.Sum64(buf)})
				if testHookChunkRead != nil {
					testHookChunkRead(off)
				}
				select {
				case full <- chunk{off, buf}:
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			})
			if err != nil {
				readErr <- err
				return
			}
		}
		readErr <- nil
	}()

	for _, rg := range ranges {
		if rg.End() > r.size {
			cancel(nil)
			<-readErr
			return nil, fmt.Errorf("range [%d, +%d) beyond the replica's %d bytes", rg.Offset, rg.Length, r.size)
		}
		src := &chunkReader{ctx: ctx, full: full, free: free, left: rg.Length, next: rg.Offset, waited: &r.sourceWait}
		err := r.s.l.StorageVolUpload(r.vol, src, rg.Offset, rg.Length, 0)
		if err == nil && src.left != 0 {
			err = fmt.Errorf("upload of [%d, +%d) ended with %d bytes unsent", rg.Offset, rg.Length, src.left)
		}
		if err != nil {
			cancel(err)
			// The reader's error says more than libvirt's "stream aborted".
			if rerr := <-readErr; rerr != nil && !errors.Is(rerr, err) {
				err = rerr
			}
			if cerr := context.Cause(ctx); ctx.Err() != nil && !errors.Is(cerr, err) && !errors.Is(err, cerr) {
				err = fmt.Errorf("%w (%w)", err, cerr)
			}
			return nil, fmt.Errorf("upload [%d, +%d): %w", rg.Offset, rg.Length, err)
		}
	}
	if err := <-readErr; err != nil {
		return nil, err
	}
	return sums, nil
}

// chunkReader feeds one range's chunks to a volume upload stream: exactly
// the range's length, then io.EOF.
type chunkReader struct {
	ctx        context.Context
	full       <-chan chunk
	free       chan<- []byte
	cur        []byte // rest of the current chunk
	curBuf     []byte // the buffer cur is in
	left, next uint64
	waited     *time.Duration // adds the time spent waiting for the reader
}

func (cr *chunkReader) Read(p []byte) (int, error) {
	if len(cr.cur) == 0 {
		if cr.curBuf != nil {
			cr.free <- cr.curBuf[:cap(cr.curBuf)]
			cr.curBuf = nil
		}
		if cr.left == 0 {
			return 0, io.EOF
		}
		var ch chunk
		var ok bool
		waitStart := time.Now()
		select {
		case ch, ok = <-cr.full:
		case <-cr.ctx.Done():
			return 0, context.Cause(cr.ctx)
		}
		*cr.waited += time.Since(waitStart)
		if !ok {
			return 0, errors.New("the export reader stopped")
		}
		if ch.off != cr.next || uint64(len(ch.buf)) > cr.left {
			return 0, fmt.Errorf("chunk at %d (%d bytes) out of step: want offset %d, %d bytes left", ch.off, len(ch.buf), cr.next, cr.left)
		}
		cr.cur, cr.curBuf = ch.buf, ch.buf
		cr.next += uint64(len(ch.buf))
	}
	n := copy(p, cr.cur)
	cr.cur = cr.cur[n:]
	cr.left -= uint64(n)
	if len(cr.cur) == 0 && cr.curBuf != nil {
		cr.free <- cr.curBuf[:cap(cr.curBuf)]
		cr.curBuf = nil
	}
	return n, nil
}

// errMismatch marks a download whose data differs from what was expected.
var errMismatch = errors.New("replica differs")

// Downloads and their writers. go-libvirt routes each stream packet to the
// call by an unbuffered channel while holding its connection's routing
// lock: a Writer that returns an error makes StorageVolDownload stop
// reading that channel, and the next packet then blocks the connection
// for good (even Disconnect waits for the lock). So the writers here never
// fail: they record the first problem, stop looking at data, and cut the
// stream short by closing the dedicated connection's socket, which ends
// the download with an error that the caller replaces with the recorded
// one. libvirtd may send a download's first data before the reply to the
// call, which go-libvirt took for the reply (a short download, then a
// blocked connection): every session's socket puts them back in order
// (replyfirst.go).

// verify downloads every sent chunk back from the replica and compares its
// checksum with the one taken when it was sent.
func (r *replica) verify(ctx context.Context, sums []chunkSum) error {
	for i := 0; i < len(sums); {
		// One download per run of adjacent chunks (a sent range).
		j := i + 1
		for j < len(sums) && sums[j].off == sums[j-1].off+uint64(sums[j-1].n) {
			j++
		}
		off := sums[i].off
		length := sums[j-1].off + uint64(sums[j-1].n) - off
		w := &sumWriter{want: sums[i:j], h: xxhash.New(), stop: r.cut}
		err := r.s.l.StorageVolDownload(r.vol, w, off, length, 0)
		if w.err != nil {
			err = w.err
		} else if err == nil {
			err = w.finish()
		}
		if err != nil {
			r.close()
			if ctx.Err() != nil {
				return fmt.Errorf("aborted: %w", context.Cause(ctx))
			}
			return fmt.Errorf("verify [%d, +%d): %w", off, length, err)
		}
		i = j
	}
	return nil
}

// cut ends the stream in flight by closing the connection's socket.
func (r *replica) cut() { _ = r.s.raw.Close() }

// sumWriter checksums a download chunk by chunk and compares each sum.
type sumWriter struct {
	want []chunkSum
	h    *xxhash.Digest
	got  uint32 // bytes of want[0] hashed
	stop func()
	err  error // the first mismatch; the rest of the stream is ignored
}

func (w *sumWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && w.err == nil {
		if len(w.want) == 0 {
			w.fail(fmt.Errorf("%w: the download is longer than what was sent", errMismatch))
			break
		}
		c := w.want[0]
		k := min(uint32(len(p)), c.n-w.got)
		w.h.Write(p[:k])
		p = p[k:]
		w.got += k
		if w.got == c.n {
			if w.h.Sum64() != c.sum {
				w.fail(fmt.Errorf("%w: checksum of [%d, +%d) does not match what was sent", errMismatch, c.off, c.n))
				break
			}
			w.h.Reset()
			w.got = 0
			w.want = w.want[1:]
		}
	}
	return n, nil
}

func (w *sumWriter) fail(err error) {
	w.err = err
	w.stop()
}

func (w *sumWriter) finish() error {
	if len(w.want) > 0 {
		return fmt.Errorf("%w: the download ended at %d, before [%d, +%d)", errMismatch, w.want[0].off+uint64(w.got), w.want[0].off, w.want[0].n)
	}
	return nil
}

// compare downloads the whole replica and compares it with the export.
func (r *replica) compare(ctx context.Context, c *nbd.Client) (bool, int64, error) {
	w := &compareWriter{ctx: ctx, c: c, buf: make([]byte, 0, replicateChunk), src: make([]byte, replicateChunk), diff: -1, stop: r.cut}
	err := r.s.l.StorageVolDownload(r.vol, w, 0, r.size, 0)
	if err == nil && w.err == nil {
		w.flush()
	}
	switch {
	case w.diff >= 0:
		r.close()
		return false, w.diff, nil
	case w.err != nil:
		err = w.err
	}
	if err != nil {
		r.close()
		if ctx.Err() != nil {
			return false, -1, fmt.Errorf("aborted: %w", context.Cause(ctx))
		}
		return false, -1, fmt.Errorf("compare: %w", err)
	}
	if w.off != r.size {
		return false, int64(w.off), nil
	}
	return true, -1, nil
}

// compareWriter compares a download with the export, a chunk at a time.
type compareWriter struct {
	ctx  context.Context
	c    *nbd.Client
	buf  []byte // downloaded, not yet compared
	src  []byte
	off  uint64 // offset of buf[0]
	diff int64  // the first differing byte, -1 if none yet
	stop func()
	err  error // the first difference or read error; the rest is ignored
}

func (w *compareWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && w.err == nil {
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
	}
	return n, nil
}

func (w *compareWriter) flush() {
	if len(w.buf) == 0 || w.err != nil {
		return
	}
	src := w.src[:len(w.buf)]
	if _, err := w.c.ReadAtContext(w.ctx, src, int64(w.off)); err != nil {
		w.err = fmt.Errorf("read [%d, +%d) from the export: %w", w.off, len(src), err)
		w.stop()
		return
	}
	if !bytes.Equal(src, w.buf) {
		for i := range src {
			if src[i] != w.buf[i] {
				w.diff = int64(w.off) + int64(i)
				break
			}
		}
		w.err = errMismatch
		w.stop()
		return
	}
	w.off += uint64(len(w.buf))
	w.buf = w.buf[:0]
}
