// Package nbd is a small read-only NBD client: the disk-data side of
// replicating a running VM.
//
// libvirt's pull-mode backup (backup-begin with <domainbackup mode='pull'>)
// exposes a point-in-time copy of each disk as an NBD export, together with
// the meta context qemu:dirty-bitmap:backup-<disk> whose extents mark what
// changed since the checkpoint. A replicator reads those extents (or
// base:allocation for a full copy, to skip holes), reads the ranges with
// NBD_CMD_READ and streams them to the replica. No Go NBD client does
// NBD_CMD_BLOCK_STATUS with meta contexts and libnbd needs cgo, hence this
// package, written from the protocol's doc/proto.md with the standard
// library only.
//
// The client sends one request at a time (a mutex serialises callers), which
// keeps it simple and is enough to saturate a disk stream over one
// connection; open several clients to read in parallel. It never trusts a
// length from the server beyond what was asked for: an oversized or
// misplaced reply is a protocol error that closes the connection. Errors the
// server reports for a request (*Error) leave the connection usable; any
// other error (I/O, protocol, context cancellation) closes it, because the
// stream can no longer be trusted to be in step.
package nbd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"time"
)

// Extent is one descriptor of NBD_CMD_BLOCK_STATUS: Length bytes from Offset
// with the meta context's status Flags.
type Extent struct {
	Offset, Length uint64
	Flags          uint32
}

// Error is an error the server reported for one request (an NBD error reply
// or error chunk). The connection stays usable after it.
type Error struct {
	Errno   uint32 // NBD error value (EIO = 5, EINVAL = 22, ...)
	Message string // optional human-readable text from the server
}

func (e *Error) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("nbd: server error %d: %s", e.Errno, e.Message)
	}
	return fmt.Sprintf("nbd: server error %d", e.Errno)
}

// ErrProtocol wraps every violation of the protocol by the server.
var ErrProtocol = errors.New("nbd: protocol error")

// ErrClosed is returned by calls on a client whose connection was closed.
var ErrClosed = errors.New("nbd: connection closed")

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// Client is a connection to one NBD export in the transmission phase. Its
// methods are safe for concurrent use; requests are sent one at a time.
type Client struct {
	mu     sync.Mutex
	conn   net.Conn
	r      *bufio.Reader
	broken error // set once the stream is unusable; every later call returns it

	size              uint64
	structured        bool
	min, pref, max    uint32
	contexts          map[string]uint32
	contextNames      map[uint32]string
	handle            uint64
	scratch           [structuredHeaderSize + 4]byte
	maxRead, minAlign uint64
}

// Dial connects to an NBD server ("tcp" host:port or "unix" socket path)
// and negotiates the export with the fixed-newstyle handshake: structured
// replies, the given meta contexts (all must be offered: a replicator that
// silently got no dirty bitmap would copy nothing), then NBD_OPT_GO asking
// for block size constraints. ctx bounds the dial and the handshake only.
func Dial(ctx context.Context, network, addr, export string, metaContexts ...string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("nbd: dial %s %s: %w", network, addr, err)
	}
	return Handshake(ctx, conn, export, metaContexts...)
}

// Handshake negotiates export over an already connected conn (for example a
// tunnel), as Dial does. The conn is closed if the handshake fails.
func Handshake(ctx context.Context, conn net.Conn, export string, metaContexts ...string) (*Client, error) {
	c := &Client{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	if err := c.guard(ctx, func() error { return c.handshake(export, metaContexts) }); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Size is the size of the export in bytes.
func (c *Client) Size() uint64 { return c.size }

// BlockSize returns the server's block size constraints (NBD_INFO_BLOCK_SIZE)
// or the spec's defaults (1, 4096, 32 MiB) when it gave none. Requests are
// aligned to min and no longer than max.
func (c *Client) BlockSize() (min, preferred, max uint32) { return c.min, c.pref, c.max }

// MetaContexts maps each negotiated meta context name to the id the server
// assigned to it.
func (c *Client) MetaContexts() map[string]uint32 {
	m := make(map[string]uint32, len(c.contexts))
	for k, v := range c.contexts {
		m[k] = v
	}
	return m
}

// Close ends the session with NBD_CMD_DISC (the only clean way a client may
// leave) and closes the connection. It is safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return nil
	}
	c.broken = ErrClosed
	// A server that stopped reading must not hold Close up.
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.handle++
	werr := c.writeRequest(cmdDisc, c.handle, 0, 0)
	cerr := c.conn.Close()
	if werr != nil {
		return fmt.Errorf("nbd: disconnect: %w", werr)
	}
	return cerr
}

// guard runs fn, closing the connection if ctx ends meanwhile so that a
// blocked read or write returns at once. Any error of fn that is not a
// server-reported *Error marks the client broken and closes the connection.
// The caller holds c.mu (or owns c exclusively).
func (c *Client) guard(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("nbd: %w", context.Cause(ctx)) // nothing sent: the stream is still in step
	}
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	err := fn()
	cancelled := !stop()
	if cancelled {
		c.fail(fmt.Errorf("nbd: %w", context.Cause(ctx)))
		return c.broken
	}
	var serr *Error
	if err != nil && !errors.As(err, &serr) {
		c.fail(err)
	}
	return err
}

func (c *Client) fail(err error) {
	if c.broken == nil {
		c.broken = err
		c.conn.Close()
	}
}

// --- handshake ---

func (c *Client) handshake(export string, contexts []string) error {
	var hdr [18]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return fmt.Errorf("nbd: reading greeting: %w", err)
	}
	if binary.BigEndian.Uint64(hdr[0:]) != magicNBD {
		return protoErr("not an NBD server")
	}
	switch binary.BigEndian.Uint64(hdr[8:]) {
	case magicOpt:
	case magicOldstyle:
		return protoErr("oldstyle negotiation is not supported")
	default:
		return protoErr("bad handshake magic")
	}
	hflags := binary.BigEndian.Uint16(hdr[16:])
	if hflags&flagFixedNewstyle == 0 {
		return protoErr("server does not support fixed newstyle negotiation")
	}
	cflags := uint32(flagFixedNewstyle)
	if hflags&flagNoZeroes != 0 {
		cflags |= flagNoZeroes
	}
	if err := binary.Write(c.conn, binary.BigEndian, cflags); err != nil {
		return fmt.Errorf("nbd: sending client flags: %w", err)
	}

	// Structured replies: needed for BLOCK_STATUS, and they make READ errors
	// and holes unambiguous.
	if err := c.sendOpt(optStructuredReply, nil); err != nil {
		return err
	}
	typ, data, err := c.readOptReply(optStructuredReply)
	switch {
	case err != nil:
		return err
	case typ == repAck:
		c.structured = true
	case typ == repErrUnsup && len(contexts) == 0:
	default:
		return optError("NBD_OPT_STRUCTURED_REPLY", typ, data)
	}

	if len(contexts) > 0 {
		if err := c.setMetaContexts(export, contexts); err != nil {
			return err
		}
	}
	return c.optGo(export)
}

func (c *Client) sendOpt(opt uint32, data []byte) error {
	buf := make([]byte, 16, 16+len(data))
	binary.BigEndian.PutUint64(buf[0:], magicOpt)
	binary.BigEndian.PutUint32(buf[8:], opt)
	binary.BigEndian.PutUint32(buf[12:], uint32(len(data)))
	if _, err := c.conn.Write(append(buf, data...)); err != nil {
		return fmt.Errorf("nbd: sending option %d: %w", opt, err)
	}
	return nil
}

// readOptReply reads one option reply to opt, bounded to maxOptReply bytes.
func (c *Client) readOptReply(opt uint32) (typ uint32, data []byte, err error) {
	var hdr [20]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("nbd: reading option reply: %w", err)
	}
	if binary.BigEndian.Uint64(hdr[0:]) != magicOptReply {
		return 0, nil, protoErr("bad option reply magic")
	}
	if got := binary.BigEndian.Uint32(hdr[8:]); got != opt {
		return 0, nil, protoErr("reply to option %d while negotiating %d", got, opt)
	}
	typ = binary.BigEndian.Uint32(hdr[12:])
	n := binary.BigEndian.Uint32(hdr[16:])
	if n > maxOptReply {
		return 0, nil, protoErr("option reply of %d bytes", n)
	}
	data = make([]byte, n)
	if _, err := io.ReadFull(c.r, data); err != nil {
		return 0, nil, fmt.Errorf("nbd: reading option reply: %w", err)
	}
	return typ, data, nil
}

func optError(opt string, typ uint32, data []byte) error {
	if typ&repErrBit == 0 {
		return protoErr("unexpected reply %d to %s", typ, opt)
	}
	if len(data) > 0 {
		return fmt.Errorf("nbd: %s refused (%#x): %s", opt, typ, data)
	}
	return fmt.Errorf("nbd: %s refused (%#x)", opt, typ)
}

func appendString32(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func (c *Client) setMetaContexts(export string, contexts []string) error {
	if !c.structured {
		return errors.New("nbd: meta contexts need structured replies, which the server refused")
	}
	data := appendString32(nil, export)
	data = binary.BigEndian.AppendUint32(data, uint32(len(contexts)))
	for _, name := range contexts {
		data = appendString32(data, name)
	}
	if err := c.sendOpt(optSetMetaContext, data); err != nil {
		return err
	}
	c.contexts = map[string]uint32{}
	c.contextNames = map[uint32]string{}
	for {
		typ, data, err := c.readOptReply(optSetMetaContext)
		if err != nil {
			return err
		}
		switch typ {
		case repMetaContext:
			if len(data) < 4 {
				return protoErr("short meta context reply")
			}
			id, name := binary.BigEndian.Uint32(data), string(data[4:])
			c.contexts[name] = id
			c.contextNames[id] = name
			continue
		case repAck:
		default:
			return optError("NBD_OPT_SET_META_CONTEXT", typ, data)
		}
		break
	}
	for _, name := range contexts {
		if _, ok := c.contexts[name]; !ok {
			return fmt.Errorf("nbd: export %q does not offer meta context %q", export, name)
		}
	}
	return nil
}

func (c *Client) optGo(export string) error {
	data := appendString32(nil, export)
	data = binary.BigEndian.AppendUint16(data, 1)
	data = binary.BigEndian.AppendUint16(data, infoBlockSize)
	if err := c.sendOpt(optGo, data); err != nil {
		return err
	}
	c.min, c.pref, c.max = 1, 4096, defaultMaxRequest
	gotExport := false
	for {
		typ, data, err := c.readOptReply(optGo)
		if err != nil {
			return err
		}
		switch {
		case typ == repAck:
			if !gotExport {
				return protoErr("NBD_OPT_GO acknowledged without NBD_INFO_EXPORT")
			}
			return c.checkLimits()
		case typ != repInfo:
			return optError(fmt.Sprintf("NBD_OPT_GO %q", export), typ, data)
		case len(data) < 2:
			return protoErr("short info reply")
		}
		switch binary.BigEndian.Uint16(data) {
		case infoExport:
			if len(data) != 12 {
				return protoErr("NBD_INFO_EXPORT of %d bytes", len(data))
			}
			c.size = binary.BigEndian.Uint64(data[2:]) // the transmission flags after it matter only for writes
			gotExport = true
		case infoBlockSize:
			if len(data) != 14 {
				return protoErr("NBD_INFO_BLOCK_SIZE of %d bytes", len(data))
			}
			c.min = binary.BigEndian.Uint32(data[2:])
			c.pref = binary.BigEndian.Uint32(data[6:])
			c.max = binary.BigEndian.Uint32(data[10:])
		}
	}
}

// checkLimits validates the block size constraints (the spec: powers of
// two, min ≤ 64 KiB, min ≤ pref, max a multiple of min) and derives the
// request limits from them.
func (c *Client) checkLimits() error {
	pow2 := func(v uint32) bool { return v != 0 && v&(v-1) == 0 }
	if !pow2(c.min) || c.min > 64<<10 || !pow2(c.pref) || c.pref < c.min || c.max < c.min || c.max%c.min != 0 {
		return protoErr("bad block sizes min %d preferred %d max %d", c.min, c.pref, c.max)
	}
	c.minAlign = uint64(c.min)
	c.maxRead = min(uint64(c.max), defaultMaxRequest)
	c.maxRead -= c.maxRead % c.minAlign
	return nil
}

// --- transmission ---

func (c *Client) writeRequest(cmd uint16, handle, offset uint64, length uint32) error {
	var b [requestHeaderSize]byte
	binary.BigEndian.PutUint32(b[0:], magicRequest)
	binary.BigEndian.PutUint16(b[6:], cmd)
	binary.BigEndian.PutUint64(b[8:], handle)
	binary.BigEndian.PutUint64(b[16:], offset)
	binary.BigEndian.PutUint32(b[24:], length)
	_, err := c.conn.Write(b[:])
	return err
}

// chunk is the header of one reply: a simple reply is reported as a final
// chunk of type replyTypeNone with its error in errno.
type chunk struct {
	simple bool
	errno  uint32
	flags  uint16
	typ    uint16
	length uint32
}

// readChunk reads the next reply header and checks it belongs to handle.
func (c *Client) readChunk(handle uint64) (chunk, error) {
	b := c.scratch[:4]
	if _, err := io.ReadFull(c.r, b); err != nil {
		return chunk{}, fmt.Errorf("nbd: reading reply: %w", err)
	}
	var ch chunk
	var h uint64
	switch binary.BigEndian.Uint32(b) {
	case magicSimple:
		b = c.scratch[:12]
		if _, err := io.ReadFull(c.r, b); err != nil {
			return chunk{}, fmt.Errorf("nbd: reading reply: %w", err)
		}
		ch = chunk{simple: true, errno: binary.BigEndian.Uint32(b), flags: replyFlagDone}
		h = binary.BigEndian.Uint64(b[4:])
	case magicStructured:
		if !c.structured {
			return chunk{}, protoErr("structured reply that was not negotiated")
		}
		b = c.scratch[:structuredHeaderSize-4]
		if _, err := io.ReadFull(c.r, b); err != nil {
			return chunk{}, fmt.Errorf("nbd: reading reply: %w", err)
		}
		ch = chunk{flags: binary.BigEndian.Uint16(b), typ: binary.BigEndian.Uint16(b[2:]),
			length: binary.BigEndian.Uint32(b[12:])}
		h = binary.BigEndian.Uint64(b[4:])
	default:
		return chunk{}, protoErr("bad reply magic")
	}
	if h != handle {
		return chunk{}, protoErr("reply for handle %d, expected %d", h, handle)
	}
	return ch, nil
}

// readErrorChunk reads the payload of an error chunk into an *Error. An
// error chunk is bounded by its message: 4 errno + 2 length + message (+ 8
// offset for NBD_REPLY_TYPE_ERROR_OFFSET).
func (c *Client) readErrorChunk(ch chunk) (*Error, error) {
	if ch.length < 6 || ch.length > 6+maxString+8 {
		return nil, protoErr("error chunk of %d bytes", ch.length)
	}
	b := make([]byte, ch.length)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, fmt.Errorf("nbd: reading error chunk: %w", err)
	}
	msgLen := uint32(binary.BigEndian.Uint16(b[4:]))
	extra := uint32(0)
	if ch.typ == replyTypeErrorOffset {
		extra = 8
	}
	if 6+msgLen+extra > ch.length {
		return nil, protoErr("error chunk message overruns the chunk")
	}
	errno := binary.BigEndian.Uint32(b)
	if errno == 0 {
		return nil, protoErr("error chunk with error 0")
	}
	return &Error{Errno: errno, Message: string(b[6 : 6+msgLen])}, nil
}

// BlockStatus returns the extents of meta context name covering exactly
// [offset, offset+length): it repeats NBD_CMD_BLOCK_STATUS while the server
// answers for less than asked (it may), and trims the last extent, which
// may run past the request. Adjacent extents may share flags.
func (c *Client) BlockStatus(ctx context.Context, name string, offset, length uint64) ([]Extent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return nil, c.broken
	}
	id, ok := c.contexts[name]
	if !ok {
		return nil, fmt.Errorf("nbd: meta context %q was not negotiated", name)
	}
	if offset > c.size || length > c.size-offset {
		return nil, fmt.Errorf("nbd: block status [%d, +%d) beyond export size %d", offset, length, c.size)
	}
	var out []Extent
	err := c.guard(ctx, func() error {
		for off, end := offset, offset+length; off < end; {
			got, err := c.blockStatus(id, off, min(end-off, maxStatusRequest))
			if err != nil {
				return err
			}
			for _, e := range got {
				off += e.Length
			}
			out = append(out, got...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// blockStatus sends one request and returns the extents for context id,
// trimmed to the request; it reads (and bounds) the chunks of the other
// negotiated contexts too, as the server sends one per context.
func (c *Client) blockStatus(id uint32, offset, length uint64) ([]Extent, error) {
	c.handle++
	h := c.handle
	if err := c.writeRequest(cmdBlockStatus, h, offset, uint32(length)); err != nil {
		return nil, fmt.Errorf("nbd: sending block status: %w", err)
	}
	var out []Extent
	var serr *Error
	seen := false
	for {
		ch, err := c.readChunk(h)
		if err != nil {
			return nil, err
		}
		switch {
		case ch.simple:
			if ch.errno == 0 {
				return nil, protoErr("simple reply without data to block status")
			}
			return nil, &Error{Errno: ch.errno}
		case ch.typ&replyTypeErrBit != 0:
			e, err := c.readErrorChunk(ch)
			if err != nil {
				return nil, err
			}
			serr = e
		case ch.typ == replyTypeBlockStatus:
			if ch.length < 12 || (ch.length-4)%8 != 0 || (ch.length-4)/8 > maxStatusDescriptors {
				return nil, protoErr("block status chunk of %d bytes", ch.length)
			}
			b := make([]byte, ch.length)
			if _, err := io.ReadFull(c.r, b); err != nil {
				return nil, fmt.Errorf("nbd: reading block status: %w", err)
			}
			cid := binary.BigEndian.Uint32(b)
			if _, ok := c.contextNames[cid]; !ok {
				return nil, protoErr("block status for unknown context id %d", cid)
			}
			if cid == id {
				if seen {
					return nil, protoErr("two block status chunks for context id %d", cid)
				}
				seen = true
				if out, err = appendExtents(out, b[4:], offset, offset+length); err != nil {
					return nil, err
				}
			}
		case ch.typ == replyTypeNone && ch.length == 0:
		default:
			return nil, protoErr("unexpected chunk type %d (%d bytes) to block status", ch.typ, ch.length)
		}
		if ch.flags&replyFlagDone != 0 {
			break
		}
	}
	if serr != nil {
		return nil, serr
	}
	if !seen || len(out) == 0 {
		return nil, protoErr("no block status for context id %d", id)
	}
	return out, nil
}

// appendExtents decodes block status descriptors (length, flags) starting
// at off, trimmed to end: the final one may run past the request.
// A zero length would stall the caller's loop and is forbidden.
func appendExtents(out []Extent, d []byte, off, end uint64) ([]Extent, error) {
	for ; len(d) >= 8 && off < end; d = d[8:] {
		n := min(uint64(binary.BigEndian.Uint32(d)), end-off)
		if n == 0 {
			return nil, protoErr("block status descriptor of length 0")
		}
		out = append(out, Extent{Offset: off, Length: n, Flags: binary.BigEndian.Uint32(d[4:])})
		off += n
	}
	return out, nil
}

// ReadAt reads len(p) bytes at off, as io.ReaderAt: it returns io.EOF with a
// short count only at the end of the export. Holes read as zeros.
func (c *Client) ReadAt(p []byte, off int64) (int, error) {
	return c.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt bounded by ctx; when ctx ends the connection is
// closed (a request in flight cannot be taken back).
func (c *Client) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return 0, c.broken
	}
	if off < 0 {
		return 0, errors.New("nbd: negative offset")
	}
	if uint64(off) >= c.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	var eof error
	if uint64(len(p)) > c.size-uint64(off) {
		p, eof = p[:c.size-uint64(off)], io.EOF
	}
	var n int
	if err := c.guard(ctx, func() (err error) { n, err = c.readAligned(p, uint64(off)); return err }); err != nil {
		return n, err
	}
	return n, eof
}

// readAligned splits [off, off+len(p)) into requests of at most maxRead
// bytes aligned to the minimum block size; an unaligned head or tail is
// read whole into a bounce buffer (servers may reject unaligned requests).
func (c *Client) readAligned(p []byte, off uint64) (int, error) {
	a := c.minAlign
	done := 0
	for done < len(p) {
		pos := off + uint64(done)
		start := pos - pos%a
		if start != pos || uint64(len(p)-done) < a {
			// One aligned block through a bounce buffer; the export's last
			// block may be short.
			blk := make([]byte, min(a, c.size-start))
			if err := c.read(blk, start); err != nil {
				return done, err
			}
			done += copy(p[done:], blk[pos-start:])
			continue
		}
		n := min(uint64(len(p)-done), c.maxRead)
		n -= n % a
		if err := c.read(p[done:done+int(n)], pos); err != nil {
			return done, err
		}
		done += int(n)
	}
	return done, nil
}

// read performs one NBD_CMD_READ of exactly len(p) bytes at off. Every
// chunk must lie within the request; at the end, the data and hole chunks
// must have covered it exactly once.
func (c *Client) read(p []byte, off uint64) error {
	c.handle++
	h := c.handle
	if err := c.writeRequest(cmdRead, h, off, uint32(len(p))); err != nil {
		return fmt.Errorf("nbd: sending read: %w", err)
	}
	type span struct{ from, to uint64 } // relative to off
	var spans []span
	var serr *Error
	for {
		ch, err := c.readChunk(h)
		if err != nil {
			return err
		}
		if ch.simple {
			if ch.errno != 0 {
				return &Error{Errno: ch.errno}
			}
			if c.structured {
				return protoErr("simple reply with data to a read after structured replies")
			}
			if _, err := io.ReadFull(c.r, p); err != nil {
				return fmt.Errorf("nbd: reading data: %w", err)
			}
			return nil
		}
		switch {
		case ch.typ&replyTypeErrBit != 0:
			e, err := c.readErrorChunk(ch)
			if err != nil {
				return err
			}
			serr = e
		case ch.typ == replyTypeOffsetData || ch.typ == replyTypeOffsetHole:
			// OFFSET_DATA: 8 offset + at least 1 byte of data, never more
			// than was asked for; OFFSET_HOLE: 8 offset + 4 size.
			b := c.scratch[:8]
			if ch.typ == replyTypeOffsetHole {
				b = c.scratch[:12]
			}
			if ch.typ == replyTypeOffsetHole && ch.length != 12 ||
				ch.typ == replyTypeOffsetData && (ch.length < 9 || uint64(ch.length-8) > uint64(len(p))) {
				return protoErr("read chunk type %d of %d bytes for a %d-byte read", ch.typ, ch.length, len(p))
			}
			if _, err := io.ReadFull(c.r, b); err != nil {
				return fmt.Errorf("nbd: reading chunk: %w", err)
			}
			coff := binary.BigEndian.Uint64(b)
			n := uint64(ch.length - 8)
			if ch.typ == replyTypeOffsetHole {
				n = uint64(binary.BigEndian.Uint32(b[8:]))
			}
			if coff < off || n == 0 || coff-off > uint64(len(p)) || n > uint64(len(p))-(coff-off) {
				return protoErr("read chunk [%d, +%d) outside the request [%d, +%d)", coff, n, off, len(p))
			}
			rel := coff - off
			dst := p[rel : rel+n]
			if ch.typ == replyTypeOffsetData {
				if _, err := io.ReadFull(c.r, dst); err != nil {
					return fmt.Errorf("nbd: reading data: %w", err)
				}
			} else {
				clear(dst)
			}
			spans = append(spans, span{rel, rel + n})
		case ch.typ == replyTypeNone && ch.length == 0:
		default:
			return protoErr("unexpected chunk type %d (%d bytes) to read", ch.typ, ch.length)
		}
		if ch.flags&replyFlagDone != 0 {
			break
		}
	}
	if serr != nil {
		return serr
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	next := uint64(0)
	for _, s := range spans {
		if s.from != next {
			return protoErr("read reply covers the request with gaps or overlaps at +%d", next)
		}
		next = s.to
	}
	if next != uint64(len(p)) {
		return protoErr("read reply covers %d of %d bytes", next, len(p))
	}
	return nil
}
