package metering

import (
	"encoding/binary"
	"errors"
)

// An hour of 5-minute buckets is packed into one row: a 12-bit bitmap of the
// buckets present, then each present bucket's eight values as signed
// varints of the difference to the previous present bucket. Levels (memory,
// disk) barely change and take a byte; rates take two or three.

const bucketsPerHour = 12

func values(s *Sample) [8]int64 {
	return [8]int64{s.CPU, s.Mem, s.Disk, s.Rd, s.Wr, s.Rx, s.Tx, 0}
}

// pack encodes the buckets of the hour starting at hour; rows outside it
// are ignored.
func pack(hour int64, rows []Sample) []byte {
	var slots [bucketsPerHour]*Sample
	var mask uint64
	for i := range rows {
		k := (rows[i].At - hour) / 300
		if k >= 0 && k < bucketsPerHour {
			slots[k] = &rows[i]
			mask |= 1 << k
		}
	}
	out := binary.AppendUvarint(nil, mask)
	var prev [8]int64
	for _, s := range slots {
		if s == nil {
			continue
		}
		v := values(s)
		for j := 0; j < 7; j++ {
			out = binary.AppendVarint(out, v[j]-prev[j])
		}
		prev = v
	}
	return out
}

var errBadPack = errors.New("corrupt packed metrics row")

// unpack decodes a packed hour into samples of series.
func unpack(series, hour int64, data []byte) ([]Sample, error) {
	mask, n := binary.Uvarint(data)
	if n <= 0 {
		return nil, errBadPack
	}
	data = data[n:]
	var out []Sample
	var prev [8]int64
	for k := 0; k < bucketsPerHour; k++ {
		if mask&(1<<k) == 0 {
			continue
		}
		var v [8]int64
		for j := 0; j < 7; j++ {
			d, n := binary.Varint(data)
			if n <= 0 {
				return nil, errBadPack
			}
			data = data[n:]
			v[j] = prev[j] + d
		}
		prev = v
		out = append(out, Sample{Series: series, At: hour + int64(k)*300, CPU: v[0], Mem: v[1], Disk: v[2], Rd: v[3], Wr: v[4], Rx: v[5], Tx: v[6]})
	}
	return out, nil
}
