package hypervisor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// UploadVolume creates a volume of the given format ("raw" or "qcow2") and
// streams exactly size bytes from r into it, as a file of that format (an
// image, an ISO). r is read in chunks, never held whole in memory.
//
// A volume of that name that exists already is deleted first, so that an
// upload retried after a crash starts over from a clean volume. If the
// upload fails, the half-written volume is deleted too: nothing may use it
// as an image. A qcow2 image that names a backing file is refused (and
// deleted): clones of it would read a file of the uploader's choosing.
//
// The stream runs on a connection of its own; ctx ending aborts it.
func (m *Manager) UploadVolume(ctx context.Context, uri, pool, name, format string, size uint64, r io.Reader) error {
	if err := m.uploadVolume(ctx, uri, pool, name, format, size, r); err != nil {
		return fmt.Errorf("upload volume %s/%s on %s: %w", pool, name, uri, err)
	}
	return nil
}

func (m *Manager) uploadVolume(ctx context.Context, uri, pool, name, format string, size uint64, r io.Reader) error {
	if err := checkVolumeName(name); err != nil {
		return err
	}
	if format != "raw" && format != "qcow2" {
		return fmt.Errorf("format %q: want raw or qcow2", format)
	}
	if size == 0 {
		return errors.New("size 0")
	}
	_, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		return struct{}{}, recreateVolume(l, pool, name, format, size)
	})
	if err != nil {
		return err
	}

	head := &headReader{r: r, max: qcow2HeadSize}
	err = m.stream(ctx, uri, pool, name, size, head)
	if err == nil && format == "qcow2" {
		// From the bytes sent, not from libvirt: libvirt writes an upload
		// through a helper process and may describe the volume before the
		// header is on disk (a backing file then went unnoticed under load).
		err = qcow2References(head.buf)
	}
	if err == nil {
		err = m.checkUploaded(ctx, uri, pool, name)
	}
	if err != nil {
		m.discard(uri, pool, name)
		return err
	}
	return nil
}

// recreateVolume deletes the volume if present and creates it empty. For
// qcow2, qemu-img writes a header that the upload then overwrites; bytes of
// it beyond the uploaded image's end (only possible with tiny images) are
// outside the image and ignored by QEMU.
func recreateVolume(l *libvirt.Libvirt, pool, name, format string, size uint64) error {
	if err := deleteVolume(l, pool, name); err != nil {
		return err
	}
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	x, err := (&libvirtxml.StorageVolume{
		Name:     name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: size},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: format}},
	}).Marshal()
	if err != nil {
		return fmt.Errorf("volume XML: %w", err)
	}
	if _, err := l.StorageVolCreateXML(p, x, 0); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	return nil
}

// stream sends size bytes of r into the volume. No sparse flags: go-libvirt
// does not speak libvirt's sparse stream protocol.
func (m *Manager) stream(ctx context.Context, uri, pool, name string, size uint64, r io.Reader) error {
	src := &countingReader{r: io.LimitReader(r, int64(size))}
	err := m.runStream(ctx, uri, func(s *session) error {
		v, err := lookupVolume(s.l, pool, name)
		if err != nil {
			return err
		}
		return s.l.StorageVolUpload(v, src, 0, size, 0)
	})
	// A read error makes go-libvirt abort the stream; libvirt's answer to
	// that ("stream aborted") says less than the read error itself.
	n, readErr := src.result()
	if readErr != nil {
		return fmt.Errorf("read upload: %w", readErr)
	}
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if n != size {
		return fmt.Errorf("upload ended after %d of %d bytes", n, size)
	}
	var extra [1]byte
	if n, _ := r.Read(extra[:]); n > 0 {
		return fmt.Errorf("upload is longer than the %d bytes announced", size)
	}
	return nil
}

// checkUploaded refuses qcow2 images with a backing file, as libvirt
// describes the volume (the second check, after qcow2References).
func (m *Manager) checkUploaded(ctx context.Context, uri, pool, name string) error {
	info, err := m.VolumeInfo(ctx, uri, pool, name)
	if err != nil {
		return err
	}
	if info.BackingPath != "" {
		return fmt.Errorf("the image names a backing file (%s); refused", info.BackingPath)
	}
	return nil
}

// discard deletes a failed upload's volume, best effort: the caller's
// context may be what ended the upload, so it gets a short one of its own.
func (m *Manager) discard(uri, pool, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.DeleteVolume(ctx, uri, pool, name); err != nil {
		m.log.Warn("could not delete a failed upload", "uri", uri, "pool", pool, "volume", name, "err", err)
	}
}

// countingReader counts the bytes read and keeps the first error other
// than EOF. It is locked because an aborted stream may leave go-libvirt's
// sender still reading while we look at the result.
type countingReader struct {
	r io.Reader

	mu  sync.Mutex
	n   uint64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += uint64(n)
	if err != nil && !errors.Is(err, io.EOF) && c.err == nil {
		c.err = err
	}
	return n, err
}

func (c *countingReader) result() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.err
}

// qcow2HeadSize is how much of an upload qcow2References reads: the header
// and its extensions lie in the first cluster, at least 512 bytes; 64 KiB
// covers the default cluster size.
const qcow2HeadSize = 64 << 10

// headReader passes r through and keeps its first max bytes.
type headReader struct {
	r   io.Reader
	max int
	buf []byte
}

func (h *headReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(n, room)]...)
	}
	return n, err
}

// qcow2References refuses a qcow2 image whose header names another file: a
// backing file, or an external data file (header extension "DATA"). Clones
// of such an image would read a file of the uploader's choosing.
func qcow2References(head []byte) error {
	be := binary.BigEndian
	if len(head) < 72 || string(head[:4]) != "QFI\xfb" {
		return nil // not qcow2: QEMU will refuse to open it as such
	}
	if off := be.Uint64(head[8:16]); off != 0 {
		return errors.New("the image names a backing file; refused")
	}
	version, ext := be.Uint32(head[4:8]), uint64(72)
	if version >= 3 {
		if len(head) < 104 {
			return errors.New("qcow2 header cut short; refused")
		}
		ext = uint64(be.Uint32(head[100:104]))
	}
	for ext+8 <= uint64(len(head)) {
		typ, length := be.Uint32(head[ext:ext+4]), uint64(be.Uint32(head[ext+4:ext+8]))
		switch typ {
		case 0:
			return nil // end of the extensions
		case 0x44415441: // "DATA": external data file
			return errors.New("the image names an external data file; refused")
		}
		ext += 8 + (length+7)/8*8
	}
	return errors.New("qcow2 header extensions run past the first 64 KiB; refused")
}
