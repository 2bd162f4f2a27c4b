package nbd

import "sort"

// Range is a byte range [Offset, Offset+Length) of an export: what the
// replicator reads and uploads.
type Range struct {
	Offset, Length uint64
}

// End is the offset just past the range.
func (r Range) End() uint64 { return r.Offset + r.Length }

// Dirty returns the merged ranges of extents from a qemu:dirty-bitmap:NAME
// context whose dirty bit (StateDirty) is set: what changed since the
// checkpoint, and so all an incremental copy must transfer. A dirty range
// may read as zeros (the guest discarded it); it must still be written, or
// the replica keeps stale data.
func Dirty(extents []Extent) []Range {
	return Select(extents, func(flags uint32) bool { return flags&StateDirty != 0 })
}

// Allocated returns the merged ranges of extents from base:allocation that
// hold data, that is neither a hole (StateHole) nor known zeros (StateZero):
// all a full copy into a fresh, sparse replica must transfer.
func Allocated(extents []Extent) []Range {
	return Select(extents, func(flags uint32) bool { return flags&(StateHole|StateZero) == 0 })
}

// Select returns the merged ranges of the extents whose flags satisfy keep.
func Select(extents []Extent, keep func(flags uint32) bool) []Range {
	var rs []Range
	for _, e := range extents {
		if e.Length > 0 && keep(e.Flags) {
			rs = append(rs, Range{e.Offset, e.Length})
		}
	}
	return Merge(rs)
}

// Merge sorts ranges and joins those that overlap or touch, so that the
// replicator issues as few, as large, requests as it can. Empty ranges are
// dropped. rs is reordered in place.
func Merge(rs []Range) []Range {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Offset < rs[j].Offset })
	out := rs[:0]
	for _, r := range rs {
		if r.Length == 0 {
			continue
		}
		if n := len(out); n > 0 && r.Offset <= out[n-1].End() {
			out[n-1].Length = max(out[n-1].End(), r.End()) - out[n-1].Offset
			continue
		}
		out = append(out, r)
	}
	return out
}

// Total is the number of bytes in rs (for progress and throughput).
func Total(rs []Range) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Length
	}
	return n
}
