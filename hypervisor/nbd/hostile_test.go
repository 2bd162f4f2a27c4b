package nbd_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"allmende/hypervisor/nbd"
)

// qemu-nbd never misbehaves, so the bounds the client puts on replies are
// tested against a scripted server: it negotiates a 1 MiB export "x" with
// base:allocation as context id 7, then answers the i-th request with
// replies[i](request), and then hangs up if hangUp is set. What it sends
// is raw bytes, so it can lie.

const scriptedSize = 1 << 20

type request struct {
	cmd    uint16
	handle uint64
	offset uint64
	length uint32
}

func scripted(t *testing.T, hangUp bool, replies ...func(request) []byte) *nbd.Client {
	t.Helper()
	cli, srv := net.Pipe()
	go func() {
		defer srv.Close()
		be := binary.BigEndian
		var b []byte
		b = be.AppendUint64(b, 0x4e42444d41474943)
		b = be.AppendUint64(b, 0x49484156454F5054)
		b = be.AppendUint16(b, 3)
		srv.Write(b)
		var flags [4]byte
		if _, err := io.ReadFull(srv, flags[:]); err != nil {
			return
		}
		optReply := func(opt, typ uint32, data []byte) {
			var r []byte
			r = be.AppendUint64(r, 0x3e889045565a9)
			r = be.AppendUint32(r, opt)
			r = be.AppendUint32(r, typ)
			r = be.AppendUint32(r, uint32(len(data)))
			srv.Write(append(r, data...))
		}
		for {
			var h [16]byte
			if _, err := io.ReadFull(srv, h[:]); err != nil {
				return
			}
			opt := be.Uint32(h[8:])
			if _, err := io.CopyN(io.Discard, srv, int64(be.Uint32(h[12:]))); err != nil {
				return
			}
			switch opt {
			case 8: // STRUCTURED_REPLY
				optReply(opt, 1, nil)
			case 10: // SET_META_CONTEXT
				optReply(opt, 4, append(be.AppendUint32(nil, 7), nbd.ContextAllocation...))
				optReply(opt, 1, nil)
			case 7: // GO
				info := be.AppendUint16(nil, 0)
				info = be.AppendUint64(info, scriptedSize)
				info = be.AppendUint16(info, 1)
				optReply(opt, 3, info)
				optReply(opt, 1, nil)
			}
			if opt == 7 {
				break
			}
		}
		for _, reply := range replies {
			var r [28]byte
			if _, err := io.ReadFull(srv, r[:]); err != nil {
				return
			}
			srv.Write(reply(request{be.Uint16(r[6:]), be.Uint64(r[8:]), be.Uint64(r[16:]), be.Uint32(r[24:])}))
		}
		if !hangUp {
			io.Copy(io.Discard, srv) // until the client closes
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := nbd.Handshake(ctx, cli, "x", nbd.ContextAllocation)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// chunk encodes a structured reply chunk.
func chunk(handle uint64, done bool, typ uint16, payload ...[]byte) []byte {
	var n int
	for _, p := range payload {
		n += len(p)
	}
	return chunkLen(handle, done, typ, uint32(n), payload...)
}

// chunkLen is chunk with a length field that may lie.
func chunkLen(handle uint64, done bool, typ uint16, length uint32, payload ...[]byte) []byte {
	be := binary.BigEndian
	b := be.AppendUint32(nil, 0x668e33ef)
	b = be.AppendUint16(b, map[bool]uint16{false: 0, true: 1}[done])
	b = be.AppendUint16(b, typ)
	b = be.AppendUint64(b, handle)
	b = be.AppendUint32(b, length)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func descriptors(pairs ...uint32) []byte {
	b := u32(7)
	for _, v := range pairs {
		b = append(b, u32(v)...)
	}
	return b
}

func TestHostileReplies(t *testing.T) {
	read := func(c *nbd.Client) error { _, err := c.ReadAt(make([]byte, 4096), 8192); return err }
	status := func(c *nbd.Client) error {
		_, err := c.BlockStatus(context.Background(), nbd.ContextAllocation, 0, 65536)
		return err
	}
	for _, tc := range []struct {
		name  string
		op    func(*nbd.Client) error
		reply func(request) []byte
	}{
		{"data longer than asked", read, func(r request) []byte {
			return chunkLen(r.handle, true, 1, 1<<31, u64(r.offset)) // and nothing follows
		}},
		{"data outside the request", read, func(r request) []byte {
			return chunk(r.handle, true, 1, u64(r.offset+1), make([]byte, r.length))
		}},
		{"hole outside the request", read, func(r request) []byte {
			return chunk(r.handle, true, 2, u64(r.offset), u32(r.length+1))
		}},
		{"gap in the read", read, func(r request) []byte {
			return chunk(r.handle, true, 1, u64(r.offset), make([]byte, r.length/2))
		}},
		{"overlapping chunks", read, func(r request) []byte {
			half := r.length / 2
			return append(append(chunk(r.handle, false, 1, u64(r.offset), make([]byte, half)),
				chunk(r.handle, false, 2, u64(r.offset), u32(half))...),
				chunk(r.handle, true, 0)...)
		}},
		{"wrong handle", read, func(r request) []byte {
			return chunk(r.handle+1, true, 2, u64(r.offset), u32(r.length))
		}},
		{"server gone mid-data", read, func(r request) []byte {
			return chunkLen(r.handle, true, 1, 8+r.length, u64(r.offset), make([]byte, 100))
		}},
		{"simple reply with data to a read", read, func(r request) []byte {
			return append(append(u32(0x67446698), u32(0)...), u64(r.handle)...)
		}},
		{"too many descriptors", status, func(r request) []byte {
			return chunkLen(r.handle, true, 5, 4+8*(1<<20+1), u32(7))
		}},
		{"descriptor of length 0", status, func(r request) []byte {
			return chunk(r.handle, true, 5, descriptors(0, 0))
		}},
		{"unknown context id", status, func(r request) []byte {
			return chunk(r.handle, true, 5, u32(9), u32(r.length), u32(0))
		}},
		{"no status for the context", status, func(r request) []byte {
			return chunk(r.handle, true, 0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := scripted(t, true, tc.reply)
			errc := make(chan error, 1)
			go func() { errc <- tc.op(c) }()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("accepted")
				}
				t.Log(err)
				if !errors.Is(err, nbd.ErrProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("error %v is neither ErrProtocol nor unexpected EOF", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("hangs")
			}
			// The stream is out of step: the client must refuse to go on.
			if err := read(c); err == nil {
				t.Error("the client went on after a protocol error")
			}
		})
	}
}

func TestServerErrorKeepsConnection(t *testing.T) {
	c := scripted(t, false,
		func(r request) []byte {
			msg := "bad sector"
			return append(chunk(r.handle, false, 1<<15|1, u32(5), []byte{0, byte(len(msg))}, []byte(msg)),
				chunk(r.handle, true, 0)...)
		},
		func(r request) []byte { return chunk(r.handle, true, 2, u64(r.offset), u32(r.length)) },
	)
	var serr *nbd.Error
	if _, err := c.ReadAt(make([]byte, 512), 0); !errors.As(err, &serr) || serr.Errno != 5 || serr.Message != "bad sector" {
		t.Fatalf("ReadAt = %v, want server error 5", err)
	}
	p := []byte{1, 2, 3}
	if n, err := c.ReadAt(p, 0); err != nil || n != 3 || p[0] != 0 {
		t.Fatalf("ReadAt after a server error = %d, %v, %v", n, err, p)
	}
}

// A server may describe less than asked (BlockStatus asks again) and may
// describe past the request (BlockStatus trims).
func TestBlockStatusShortAndLongReplies(t *testing.T) {
	c := scripted(t, false,
		func(r request) []byte { return chunk(r.handle, true, 5, descriptors(4096, 0, 4096, 3)) },
		func(r request) []byte { return chunk(r.handle, true, 5, descriptors(r.length+1<<20, 0)) },
	)
	ext, err := c.BlockStatus(context.Background(), nbd.ContextAllocation, 0, 65536)
	if err != nil {
		t.Fatal(err)
	}
	want := []nbd.Extent{{0, 4096, 0}, {4096, 4096, 3}, {8192, 65536 - 8192, 0}}
	if !slices.Equal(ext, want) {
		t.Fatalf("extents %v, want %v", ext, want)
	}
}

func TestRanges(t *testing.T) {
	ext := []nbd.Extent{
		{0, 10, 0}, {10, 5, 1}, {15, 5, 0}, {20, 5, 3}, {25, 5, 2}, {30, 5, 0}, {35, 5, 1},
	}
	if got, want := nbd.Allocated(ext), []nbd.Range{{0, 10}, {15, 5}, {30, 5}}; !slices.Equal(got, want) {
		t.Errorf("Allocated = %v, want %v", got, want)
	}
	if got, want := nbd.Dirty(ext), []nbd.Range{{10, 5}, {20, 5}, {35, 5}}; !slices.Equal(got, want) {
		t.Errorf("Dirty = %v, want %v", got, want)
	}
	rs := []nbd.Range{{50, 10}, {0, 10}, {10, 0}, {10, 5}, {12, 2}, {30, 10}, {35, 20}}
	if got, want := nbd.Merge(rs), []nbd.Range{{0, 15}, {30, 30}}; !slices.Equal(got, want) {
		t.Errorf("Merge = %v, want %v", got, want)
	}
	if got := nbd.Total([]nbd.Range{{0, 15}, {30, 30}}); got != 45 {
		t.Errorf("Total = %d", got)
	}
}
