package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Outbox stands in for an SMTP server when none is configured: each message
// becomes an RFC 5322 .eml file in one directory, which admins read in the
// portal and any mail client can open.
type Outbox struct {
	dir, from string
	// mu makes "is this ID already written?" and the write one step for
	// the workers of this process; River does not run one job twice at
	// once, but two jobs may carry the same key.
	mu sync.Mutex
}

// OutboxEntry describes one message in the outbox.
type OutboxEntry struct {
	File    string // base name, the handle for Read
	To      string
	Subject string
	Date    time.Time
	Size    int64
}

// File names are "<UTC time>_<idKey>.eml": the fixed-width time makes
// lexical order chronological, and the key finds an earlier copy of the
// same message.
const timeLayout = "20060102T150405.000000000Z"

var entryName = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z_[A-Za-z0-9-]+\.eml$`)

// NewOutbox returns an outbox in dir whose mail comes from the address from.
// The directory is created on first use.
func NewOutbox(dir, from string) *Outbox {
	return &Outbox{dir: dir, from: from}
}

// Send writes m into the outbox. A message whose ID is already there is not
// written again, so a retried job leaves one file.
func (o *Outbox) Send(_ context.Context, m Message) error {
	if m.ID == "" {
		// Without an ID there is nothing to deduplicate on; a random one
		// still gives the file a unique name.
		m.ID = rand.Text()
	}
	now := time.Now().UTC()
	msg, err := build(o.from, m, now)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return fmt.Errorf("outbox: render message: %w", err)
	}
	key := idKey(m.ID)

	o.mu.Lock()
	defer o.mu.Unlock()
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("outbox: create %s: %w", o.dir, err)
	}
	// The key holds only letters, digits and '-', so it is safe in a glob.
	existing, err := filepath.Glob(filepath.Join(o.dir, "*_"+key+".eml"))
	if err != nil {
		return fmt.Errorf("outbox: look for %s: %w", key, err)
	}
	if len(existing) > 0 {
		return nil
	}
	return o.writeAtomic(now.Format(timeLayout)+"_"+key+".eml", buf.Bytes())
}

// writeAtomic writes data under name via a temporary file and a rename, so
// a reader (or a crash) never sees half a message.
func (o *Outbox) writeAtomic(name string, data []byte) (err error) {
	// The temporary name does not end in .eml, so List never shows it.
	tmp, err := os.CreateTemp(o.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("outbox: create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("outbox: write %s: %w", name, err)
	}
	// Sync before rename: otherwise a crash can leave the new name
	// pointing at an empty file, and the job would not write it again.
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("outbox: sync %s: %w", name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("outbox: close %s: %w", name, err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(o.dir, name)); err != nil {
		return fmt.Errorf("outbox: rename to %s: %w", name, err)
	}
	// Make the rename itself durable before the job is marked done.
	if d, derr := os.Open(o.dir); derr == nil {
		derr = d.Sync()
		d.Close()
		if derr != nil {
			return fmt.Errorf("outbox: sync %s: %w", o.dir, derr)
		}
	}
	return nil
}

// List returns the messages in the outbox, newest first. A missing
// directory is an empty outbox.
func (o *Outbox) List() ([]OutboxEntry, error) {
	des, err := os.ReadDir(o.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: list %s: %w", o.dir, err)
	}
	var out []OutboxEntry
	for _, de := range des {
		if !de.Type().IsRegular() || !entryName.MatchString(de.Name()) {
			continue
		}
		e, err := o.entry(de)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while we were listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	// The name starts with the time it was written.
	slices.SortFunc(out, func(a, b OutboxEntry) int { return strings.Compare(b.File, a.File) })
	return out, nil
}

// entry reads the headers of one file. A file that does not parse is still
// listed, with what its name and size tell, so that it can be opened.
func (o *Outbox) entry(de fs.DirEntry) (OutboxEntry, error) {
	info, err := de.Info()
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("outbox: stat %s: %w", de.Name(), err)
	}
	e := OutboxEntry{File: de.Name(), Size: info.Size()}
	if t, err := time.Parse(timeLayout, strings.SplitN(de.Name(), "_", 2)[0]); err == nil {
		e.Date = t
	}
	f, err := os.Open(filepath.Join(o.dir, de.Name()))
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("outbox: open %s: %w", de.Name(), err)
	}
	defer f.Close()
	msg, err := netmail.ReadMessage(f)
	if err != nil {
		return e, nil
	}
	var dec mime.WordDecoder
	decode := func(s string) string {
		if d, err := dec.DecodeHeader(s); err == nil {
			return d
		}
		return s
	}
	e.To = decode(msg.Header.Get("To"))
	e.Subject = decode(msg.Header.Get("Subject"))
	if t, err := msg.Header.Date(); err == nil {
		e.Date = t
	}
	return e, nil
}

// Read returns the raw message stored under name. Only names List can
// return are accepted; anything else, including paths, reports
// fs.ErrNotExist, so a handler can answer 404 for both.
func (o *Outbox) Read(name string) ([]byte, error) {
	if !entryName.MatchString(name) {
		return nil, fmt.Errorf("outbox: %q: %w", name, fs.ErrNotExist)
	}
	// os.Root keeps every step inside the directory, even if a file is
	// swapped for a symlink between the check below and the read.
	root, err := os.OpenRoot(o.dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", o.dir, err)
	}
	defer root.Close()
	// List shows regular files only; a symlink or directory that happens
	// to match the pattern is not an outbox message.
	info, err := root.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("outbox: %s: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("outbox: %q: %w", name, fs.ErrNotExist)
	}
	data, err := root.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("outbox: read %s: %w", name, err)
	}
	return data, nil
}
