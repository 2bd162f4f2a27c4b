package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"allmende/hypervisor/nbd"
)

// ApplyRequest puts what a staged run sent (ReplicateRequest.Staging) into
// the replica: both volumes are in one pool on one host.
type ApplyRequest struct {
	URI, Pool string
	Staging   string // written by the run, verified
	Volume    string // the replica
	Size      uint64 // the disk's virtual size: both volumes have it
	Ranges    []nbd.Range
	// Recreate makes the replica empty and sparse first (the staged run was
	// a full copy: the ranges hold all the disk's data, zeros are not sent).
	Recreate bool
}

// ApplyResult is what ApplyStaged did.
type ApplyResult struct {
	Bytes    uint64
	Duration time.Duration
}

// ApplyStaged copies the ranges from the staging volume into the replica
// and verifies them there (checksums of what was read from the staging
// volume against a download of the replica). It only reads the staging
// volume, so an apply that was interrupted is done again from the start
// with the same request. The staging volume stays; the next staged run
// recreates it.
func (m *Manager) ApplyStaged(ctx context.Context, req ApplyRequest) (ApplyResult, error) {
	res, err := m.applyStaged(ctx, req)
	if err != nil {
		return res, fmt.Errorf("apply staged copy %s/%s to %s on %s: %w", req.Pool, req.Staging, req.Volume, req.URI, err)
	}
	return res, nil
}

func (m *Manager) applyStaged(ctx context.Context, req ApplyRequest) (ApplyResult, error) {
	start := time.Now()
	var res ApplyResult
	if err := checkVolumeName(req.Staging); err != nil {
		return res, err
	}
	if err := checkVolumeName(req.Volume); err != nil {
		return res, err
	}
	if req.Staging == req.Volume {
		return res, errors.New("the staging volume must differ from the replica")
	}
	for _, r := range req.Ranges {
		if r.End() > req.Size || r.End() < r.Offset {
			return res, fmt.Errorf("range [%d, +%d) beyond the disk's %d bytes", r.Offset, r.Length, req.Size)
		}
	}
	// Each volume on a connection of its own: the staging volume's
	// downloads run while the replica's uploads do.
	src, err := m.openReplica(ctx, ReplicaTarget{URI: req.URI, Pool: req.Pool, Volume: req.Staging}, req.Size, false)
	if err != nil {
		return res, err
	}
	defer src.close()
	dst, err := m.openReplica(ctx, ReplicaTarget{URI: req.URI, Pool: req.Pool, Volume: req.Volume}, req.Size, req.Recreate)
	if err != nil {
		return res, err
	}
	defer dst.close()
	sums, err := dst.upload(ctx, &volumeReader{r: src}, req.Ranges)
	if err != nil {
		return res, err
	}
	if err := dst.verify(ctx, sums); err != nil {
		return res, err
	}
	res.Bytes = nbd.Total(req.Ranges)
	res.Duration = time.Since(start)
	m.log.Info("applied staged copy", "uri", req.URI, "pool", req.Pool, "staging", req.Staging, "volume", req.Volume,
		"bytes", res.Bytes, "ranges", len(req.Ranges), "recreate", req.Recreate, "took", res.Duration)
	return res, nil
}

// volumeReader reads ranges of a volume by downloads, one per read.
type volumeReader struct {
	r *replica
}

func (v *volumeReader) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if ctx.Err() != nil {
		return 0, context.Cause(ctx)
	}
	w := &fillWriter{buf: p, stop: v.r.cut}
	err := v.r.s.l.StorageVolDownload(v.r.vol, w, uint64(off), uint64(len(p)), 0)
	if w.err != nil {
		err = w.err
	}
	if err == nil && w.n != len(p) {
		err = fmt.Errorf("download of [%d, +%d) ended after %d bytes", off, len(p), w.n)
	}
	if err != nil {
		v.r.close()
		if ctx.Err() != nil {
			return w.n, fmt.Errorf("aborted: %w", context.Cause(ctx))
		}
		return w.n, fmt.Errorf("read staging volume: %w", err)
	}
	return w.n, nil
}

// fillWriter fills buf from a download; like every download writer here it
// never fails (see "Downloads and their writers" in replicate.go).
type fillWriter struct {
	buf  []byte
	n    int
	stop func()
	err  error
}

func (w *fillWriter) Write(p []byte) (int, error) {
	if w.err == nil {
		if len(p) > len(w.buf)-w.n {
			w.err = errors.New("the download is longer than asked for")
			w.stop()
		} else {
			w.n += copy(w.buf[w.n:], p)
		}
	}
	return len(p), nil
}
