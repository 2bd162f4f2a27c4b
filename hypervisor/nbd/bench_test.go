package nbd_test

import (
	"context"
	"testing"

	"allmende/hypervisor/nbd"
)

// BenchmarkReadFull compares copying a 256 MiB sparse disk (16 MiB of data
// in 1 MiB pieces) by reading all of it (holes come as hole chunks, but the
// replicator would still upload zeros) with reading only what
// base:allocation reports as data. MB/s are of the whole disk.
func BenchmarkReadFull(b *testing.B) {
	size := int64(256 * mib)
	var ws []write
	for off := int64(0); off < size; off += 16 * mib {
		ws = append(ws, write{off: off + 3*mib, len: 1 * mib, pattern: 0x42})
	}
	s := serve(b, makeImage(b, size, nil, ws), false)
	c := s.dial(b, nbd.ContextAllocation)
	buf := make([]byte, 32*mib)

	b.Run("all", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			for off := int64(0); off < size; off += int64(len(buf)) {
				if _, err := c.ReadAt(buf, off); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("allocated", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			ext, err := c.BlockStatus(context.Background(), nbd.ContextAllocation, 0, uint64(size))
			if err != nil {
				b.Fatal(err)
			}
			rs := nbd.Allocated(ext)
			if nbd.Total(rs) != uint64(len(ws))*mib {
				b.Fatalf("allocated %v", rs)
			}
			for _, r := range rs {
				for off := r.Offset; off < r.End(); off += uint64(len(buf)) {
					n := min(uint64(len(buf)), r.End()-off)
					if _, err := c.ReadAt(buf[:n], int64(off)); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	})
}
