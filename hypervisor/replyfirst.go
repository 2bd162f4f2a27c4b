package hypervisor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Stream data that overtakes its call's reply.
//
// libvirtd starts sending a download stream's data (StorageVolDownload,
// and console output likewise) from its event loop thread as soon as the
// dispatcher has registered the stream, while the RPC reply to the call is
// only queued by the worker thread after the dispatcher returns. On a busy
// host the first data packet (or several) can therefore reach the client
// before the reply. libvirt's own client sorts packets by type; go-libvirt
// does not: requestStream takes the first packet with the call's serial as
// the reply (so the first chunk of data, 262120 bytes, is silently lost),
// and processIncomingStream then takes the real reply (status OK) as the
// end of the stream. The download "succeeds" short by a chunk or more, and
// a data packet that arrives after that blocks go-libvirt's reader for
// good: it routes packets by an unbuffered channel under the lock that the
// finished call needs to deregister (so the connection hangs).
// TestDownloadDataBeforeReply shows it with a fake daemon, and
// TestDownloadsOnBusyDaemon on a real one.
//
// replyFirstConn puts the packets back in the order go-libvirt expects: it
// notes the serial of every call the client writes, and holds back stream
// packets of a call whose reply has not arrived yet, releasing them right
// after the reply. Nothing else is reordered.

// Packet layout (libvirt's virnetprotocol.x): a 4-byte length (including
// itself), then program, version, procedure, type, serial, status.
const (
	packetHeaderLen = 28
	// maxPacketLen is libvirt's VIR_NET_MESSAGE_MAX (32 MiB).
	maxPacketLen = 32 << 20
	// maxHeldBytes bounds what is held back for calls without a reply.
	// libvirtd queues the reply right after the first data packets, so in
	// practice a packet or two is held; a daemon that sends far more is
	// broken, and the connection is failed rather than buffering on.
	maxHeldBytes = 64 << 20
)

// Packet types (virNetMessageType).
const (
	packetCall         = 0
	packetReply        = 1
	packetStream       = 3
	packetCallWithFDs  = 4
	packetReplyWithFDs = 5
	packetStreamHole   = 6
)

// Packet statuses (virNetMessageStatus).
const packetStatusOK = 0

type replyFirstConn struct {
	net.Conn
	r *bufio.Reader

	// The reading side: only go-libvirt's single reader goroutine.
	out  []byte // packets ready to be read
	err  error  // sticky read error
	held map[int32][][]byte
	size int // bytes in held

	// The writing side (go-libvirt serializes its writes).
	wmu   sync.Mutex
	whdr  [packetHeaderLen]byte
	whave int
	wskip uint32

	mu      sync.Mutex
	pending map[int32]bool // calls written whose reply has not been read
}

func newReplyFirstConn(c net.Conn) *replyFirstConn {
	return &replyFirstConn{
		Conn:    c,
		r:       bufio.NewReaderSize(c, 64<<10),
		held:    map[int32][][]byte{},
		pending: map[int32]bool{},
	}
}

// Write notes the serials of the calls in p before passing it on, so that
// a call is known before its reply can arrive.
func (c *replyFirstConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for q := p; len(q) > 0; {
		if c.wskip > 0 {
			k := min(uint32(len(q)), c.wskip)
			c.wskip -= k
			q = q[k:]
			continue
		}
		k := copy(c.whdr[c.whave:], q)
		c.whave += k
		q = q[k:]
		if c.whave < packetHeaderLen {
			continue
		}
		c.whave = 0
		length, typ, serial, _ := parseHeader(c.whdr[:])
		if length >= packetHeaderLen {
			c.wskip = length - packetHeaderLen
		}
		if typ == packetCall || typ == packetCallWithFDs {
			c.mu.Lock()
			c.pending[serial] = true
			c.mu.Unlock()
		}
	}
	return c.Conn.Write(p)
}

func (c *replyFirstConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if err := c.next(); err != nil {
			c.err = err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// next reads one packet and releases it, with any packets it unblocks, or
// holds it back.
func (c *replyFirstConn) next() error {
	var h [packetHeaderLen]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return err
	}
	length, typ, serial, status := parseHeader(h[:])
	if length < packetHeaderLen || length > maxPacketLen {
		return fmt.Errorf("libvirt packet of %d bytes", length)
	}
	pkt := make([]byte, length)
	copy(pkt, h[:])
	if _, err := io.ReadFull(c.r, pkt[packetHeaderLen:]); err != nil {
		return err
	}

	c.mu.Lock()
	awaited := c.pending[serial]
	if typ == packetReply || typ == packetReplyWithFDs {
		delete(c.pending, serial)
	}
	c.mu.Unlock()

	switch {
	case (typ == packetStream || typ == packetStreamHole) && awaited:
		if c.size+len(pkt) > maxHeldBytes {
			return errors.New("libvirt sent more than 64 MiB of stream data before the reply to its call")
		}
		c.held[serial] = append(c.held[serial], pkt)
		c.size += len(pkt)
		return nil
	case typ == packetReply || typ == packetReplyWithFDs:
		c.emit(pkt)
		held := c.held[serial]
		delete(c.held, serial)
		for _, q := range held {
			c.size -= len(q)
			// After an error reply the caller has stopped listening, and
			// go-libvirt would block on a packet routed to it before it
			// deregistered: drop them (there is no stream to read).
			if status == packetStatusOK {
				c.emit(q)
			}
		}
		return nil
	default:
		c.emit(pkt)
		return nil
	}
}

func (c *replyFirstConn) emit(pkt []byte) {
	if len(c.out) == 0 {
		c.out = pkt
		return
	}
	c.out = append(c.out, pkt...)
}

func parseHeader(h []byte) (length, typ uint32, serial int32, status uint32) {
	return binary.BigEndian.Uint32(h[0:]), binary.BigEndian.Uint32(h[16:]),
		int32(binary.BigEndian.Uint32(h[20:])), binary.BigEndian.Uint32(h[24:])
}
