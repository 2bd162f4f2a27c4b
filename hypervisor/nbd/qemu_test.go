package nbd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"allmende/hypervisor/nbd"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// write is one qemu-io write made while preparing an image: pattern 0 with
// zero set means "write -z" (zeroes, no data).
type write struct {
	off, len int64
	pattern  byte
	zero     bool
}

func (w write) cmd() string {
	if w.zero {
		return fmt.Sprintf("write -z %d %d", w.off, w.len)
	}
	return fmt.Sprintf("write -P %#x %d %d", w.pattern, w.off, w.len)
}

// The standard test image: 4 MiB qcow2 (64 KiB clusters); writes before
// the bitmap b0 is added are allocated but not dirty, those after are both
// (except the zero write: dirty, not allocated).
var (
	imageSize = int64(4 * mib)
	before    = []write{
		{off: 0, len: 64 * kib, pattern: 0x11},
		{off: 1 * mib, len: 128 * kib, pattern: 0x22},
	}
	after = []write{
		{off: 1*mib + 64*kib, len: 64 * kib, pattern: 0x33}, // rewrites the second cluster of 0x22
		{off: 2 * mib, len: 64 * kib, pattern: 0xab},
		{off: 3*mib + 4*kib, len: 4 * kib, pattern: 0xcd}, // dirties the whole 64 KiB bitmap granule
		{off: 512 * kib, len: 64 * kib, zero: true},
	}
)

func requireQemu(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"qemu-nbd", "qemu-img", "qemu-io"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian package qemu-utils): %v", tool, err)
		}
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// makeImage creates a qcow2 image: the writes of pre, then the persistent,
// enabled bitmap b0, then the writes of post.
func makeImage(t testing.TB, size int64, pre, post []write) string {
	t.Helper()
	requireQemu(t)
	img := filepath.Join(t.TempDir(), "disk.qcow2")
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", img, strconv.FormatInt(size, 10))
	io := func(ws []write) {
		if len(ws) == 0 {
			return
		}
		args := []string{"-f", "qcow2"}
		for _, w := range ws {
			args = append(args, "-c", w.cmd())
		}
		run(t, "qemu-io", append(args, img)...)
	}
	io(pre)
	run(t, "qemu-img", "bitmap", "--add", "--enable", "-f", "qcow2", img, "b0")
	io(post)
	return img
}

// expected is the guest view of an image after the writes.
func expected(size int64, ws ...[]write) []byte {
	b := make([]byte, size)
	for _, list := range ws {
		for _, w := range list {
			p := w.pattern
			if w.zero {
				p = 0
			}
			copy(b[w.off:w.off+w.len], bytes.Repeat([]byte{p}, int(w.len)))
		}
	}
	return b
}

type server struct {
	cmd     *exec.Cmd
	network string
	addr    string
}

// serve exports img read-only as "vda" with the bitmap b0, from a child
// qemu-nbd on a unix socket (or TCP on a free localhost port), and kills
// it when the test ends.
func serve(t testing.TB, img string, tcp bool) *server {
	t.Helper()
	s := &server{network: "unix"}
	args := []string{"-f", "qcow2", "-x", "vda", "-r", "--persistent", "--shared=8", "-B", "b0"}
	if tcp {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.network, s.addr = "tcp", l.Addr().String()
		l.Close()
		host, port, _ := net.SplitHostPort(s.addr)
		args = append(args, "-b", host, "-p", port)
	} else {
		// Unix socket paths are limited to 108 bytes: t.TempDir() may be longer.
		dir, err := os.MkdirTemp("", "nbd")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		s.addr = filepath.Join(dir, "sock")
		args = append(args, "--socket", s.addr)
	}
	s.cmd = exec.Command("qemu-nbd", append(args, img)...)
	var stderr bytes.Buffer
	s.cmd.Stderr = &stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGCONT) // in case a test stopped it
		s.cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial(s.network, s.addr)
		if err == nil {
			conn.Close()
			return s
		}
		select {
		case <-exited:
			t.Fatalf("qemu-nbd exited: %s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("qemu-nbd not listening on %s after 10s: %v", s.addr, err)
		}
	}
}

func (s *server) dial(t testing.TB, contexts ...string) *nbd.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := nbd.Dial(ctx, s.network, s.addr, "vda", contexts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var (
	dirtyCtx = nbd.DirtyBitmapContext("b0")
	bothCtx  = []string{nbd.ContextAllocation, dirtyCtx}
)

func standard(t *testing.T, tcp bool) *server {
	return serve(t, makeImage(t, imageSize, before, after), tcp)
}

func TestHandshake(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(map[bool]string{false: "unix", true: "tcp"}[tcp], func(t *testing.T) {
			c := standard(t, tcp).dial(t, bothCtx...)
			if c.Size() != uint64(imageSize) {
				t.Errorf("Size = %d, want %d", c.Size(), imageSize)
			}
			minBS, pref, maxBS := c.BlockSize()
			if minBS == 0 || pref < minBS || maxBS < pref {
				t.Errorf("BlockSize = %d, %d, %d", minBS, pref, maxBS)
			}
			m := c.MetaContexts()
			if len(m) != 2 || m[nbd.ContextAllocation] == m[dirtyCtx] {
				t.Errorf("MetaContexts = %v", m)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if _, err := c.ReadAt(make([]byte, 1), 0); !errors.Is(err, nbd.ErrClosed) {
				t.Errorf("ReadAt after Close = %v, want ErrClosed", err)
			}
		})
	}
}

func TestDialRefusals(t *testing.T) {
	s := standard(t, false)
	ctx := context.Background()
	if _, err := nbd.Dial(ctx, s.network, s.addr, "nope"); err == nil {
		t.Error("Dial of an unknown export succeeded")
	} else {
		t.Log(err)
	}
	if _, err := nbd.Dial(ctx, s.network, s.addr, "vda", nbd.DirtyBitmapContext("nope")); err == nil {
		t.Error("Dial with a meta context the server lacks succeeded")
	} else {
		t.Log(err)
	}
}

func TestReadAt(t *testing.T) {
	c := standard(t, false).dial(t)
	want := expected(imageSize, before, after)

	got := make([]byte, imageSize)
	if n, err := c.ReadAt(got, 0); err != nil || n != len(got) {
		t.Fatalf("ReadAt whole image = %d, %v", n, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("whole image differs from the written patterns")
	}

	// Unaligned, across data/zero boundaries.
	for _, r := range []struct{ off, n int64 }{{1*mib - 100, 70000}, {3*mib + 4*kib - 1, 4*kib + 2}, {7, 1}} {
		p := make([]byte, r.n)
		if n, err := c.ReadAt(p, r.off); err != nil || int64(n) != r.n {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", r.n, r.off, n, err)
		}
		if !bytes.Equal(p, want[r.off:r.off+r.n]) {
			t.Errorf("ReadAt(%d, %d) differs", r.n, r.off)
		}
	}

	// io.ReaderAt at the end of the export.
	p := make([]byte, 10)
	if n, err := c.ReadAt(p, imageSize-4); n != 4 || err == nil || err.Error() != "EOF" {
		t.Errorf("ReadAt past the end = %d, %v; want 4, EOF", n, err)
	}
}

func TestBlockStatusAllocation(t *testing.T) {
	c := standard(t, false).dial(t, bothCtx...)
	ext, err := c.BlockStatus(context.Background(), nbd.ContextAllocation, 0, uint64(imageSize))
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, ext, 0, uint64(imageSize))
	// The 4 KiB write allocated a 64 KiB cluster, but qemu reports the
	// rest of it (a hole in the qcow2 file) as allocated zeros: data is
	// exactly what was written.
	want := []nbd.Range{{0, 64 * kib}, {1 * mib, 128 * kib}, {2 * mib, 64 * kib}, {3*mib + 4*kib, 4 * kib}}
	if got := nbd.Allocated(ext); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Allocated = %v\nwant %v\nextents %v", got, want, ext)
	}

	// A sub-range: the extents cover it exactly, trimmed at both ends.
	ext, err = c.BlockStatus(context.Background(), nbd.ContextAllocation, 1*mib+1000, 100*kib)
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, ext, 1*mib+1000, 100*kib)
	if got := nbd.Allocated(ext); len(got) != 1 || got[0] != (nbd.Range{1*mib + 1000, 100 * kib}) {
		t.Errorf("Allocated of a sub-range = %v", got)
	}
}

func TestBlockStatusDirty(t *testing.T) {
	c := standard(t, false).dial(t, bothCtx...)
	ext, err := c.BlockStatus(context.Background(), dirtyCtx, 0, uint64(imageSize))
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, ext, 0, uint64(imageSize))
	// Only the writes after the bitmap, rounded to its 64 KiB granularity;
	// the zero write is dirty too: the replica must get those zeros.
	want := []nbd.Range{{512 * kib, 64 * kib}, {1*mib + 64*kib, 64 * kib}, {2 * mib, 64 * kib}, {3 * mib, 64 * kib}}
	if got := nbd.Dirty(ext); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Dirty = %v\nwant %v\nextents %v", got, want, ext)
	}
}

// checkCover fails unless ext tile [off, off+n) in order.
func checkCover(t *testing.T, ext []nbd.Extent, off, n uint64) {
	t.Helper()
	for _, e := range ext {
		if e.Offset != off || e.Length == 0 {
			t.Fatalf("extents do not tile the range at %d: %v", off, ext)
		}
		off += e.Length
	}
	if len(ext) == 0 || off != ext[0].Offset+n {
		t.Fatalf("extents end at %d: %v", off, ext)
	}
}

// countingConn counts the NBD requests (28-byte writes) the client sends.
type countingConn struct {
	net.Conn
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	if len(p) == 28 {
		c.writes++
	}
	return c.Conn.Write(p)
}

func TestLargeRead(t *testing.T) {
	size := int64(80 * mib)
	ws := []write{{off: 5 * mib, len: 1 * mib, pattern: 0x5a}, {off: 40*mib - 64*kib, len: 128 * kib, pattern: 0xa5}}
	s := serve(t, makeImage(t, size, nil, ws), false)
	conn, err := net.Dial(s.network, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: conn}
	c, err := nbd.Handshake(context.Background(), cc, "vda")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	minBS, pref, maxBS := c.BlockSize()
	t.Logf("qemu-nbd block sizes: min %d, preferred %d, max %d", minBS, pref, maxBS)
	cc.writes = 0
	got := make([]byte, size)
	if n, err := c.ReadAt(got, 0); err != nil || int64(n) != size {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if !bytes.Equal(got, expected(size, ws)) {
		t.Fatal("80 MiB read differs from the written patterns")
	}
	wantReqs := int((size + int64(min(maxBS, 32*mib)) - 1) / int64(min(maxBS, 32*mib)))
	if cc.writes != wantReqs || wantReqs < 3 {
		t.Errorf("%d read requests for 80 MiB with max block size %d, want %d", cc.writes, maxBS, wantReqs)
	}
}

func TestServerDiesMidRead(t *testing.T) {
	size := int64(64 * mib)
	s := serve(t, makeImage(t, size, nil, []write{{off: 0, len: size, pattern: 0x77}}), false)
	c := s.dial(t)
	errc := make(chan error, 1)
	go func() {
		p := make([]byte, size)
		for {
			if _, err := c.ReadAt(p, 0); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	s.cmd.Process.Kill()
	select {
	case err := <-errc:
		t.Logf("ReadAt after the server died: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("ReadAt hangs after the server died")
	}
	if _, err := c.BlockStatus(context.Background(), nbd.ContextAllocation, 0, 1); err == nil {
		t.Error("a dead connection answered")
	}
}

func TestContextCancel(t *testing.T) {
	s := standard(t, false)
	c := s.dial(t, nbd.ContextAllocation)

	// A server that stopped answering: the deadline ends the call.
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.BlockStatus(ctx, nbd.ContextAllocation, 0, uint64(imageSize))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("BlockStatus on a stopped server = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("BlockStatus returned after %v", d)
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	// The stream may be out of step now: the client stays closed.
	if _, err := c.ReadAt(make([]byte, 1), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadAt after the cancelled call = %v", err)
	}

	// Cancelled before the call.
	c2 := s.dial(t)
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := c2.ReadAtContext(ctx2, make([]byte, 4096), 0); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAtContext with a cancelled context = %v", err)
	}
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err := nbd.Dial(ctx3, s.network, s.addr, "vda"); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a cancelled context = %v", err)
	}
}
