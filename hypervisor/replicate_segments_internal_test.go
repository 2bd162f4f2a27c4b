package hypervisor

import (
	"slices"
	"testing"

	"allmende/hypervisor/nbd"
)

// Segments cover the ranges exactly, at most segmentSize each, and cut
// only at chunk boundaries, so a segment's chunks are the range's chunks
// (the checksums taken per chunk while reading then line up with each
// segment's download).
func TestSegments(t *testing.T) {
	const seg = segmentSize
	ranges := []nbd.Range{{Offset: 4096, Length: 2*seg + 5}, {Offset: 10 * seg, Length: 100}, {Offset: 20 * seg, Length: seg}}
	got := segments(ranges)
	want := []nbd.Range{
		{Offset: 4096, Length: seg}, {Offset: 4096 + seg, Length: seg}, {Offset: 4096 + 2*seg, Length: 5},
		{Offset: 10 * seg, Length: 100},
		{Offset: 20 * seg, Length: seg},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("segments = %v, want %v", got, want)
	}
	var whole, cut []uint64
	for _, r := range ranges {
		_ = chunks(r, func(off, n uint64) error { whole = append(whole, off, n); return nil })
	}
	for _, r := range got {
		_ = chunks(r, func(off, n uint64) error { cut = append(cut, off, n); return nil })
	}
	if !slices.Equal(whole, cut) {
		t.Errorf("chunks of the segments %v differ from the ranges' %v", cut, whole)
	}
	if needsVerifier(ranges[1:2]) || !needsVerifier(ranges) {
		t.Error("a second connection is for transfers of more than one segment only")
	}
}
