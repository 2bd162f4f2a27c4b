package metering

import (
	"reflect"
	"testing"
)

// A packed hour decodes to the buckets it was made of, gaps included.
func TestPackRoundTrip(t *testing.T) {
	hour := int64(1_800_000_000 / 3600 * 3600)
	in := []Sample{
		{Series: 7, At: hour, CPU: 500, Mem: 512 << 20, Disk: 1 << 30, Rd: 1_000_000, Wr: 3, Rx: 0, Tx: 9},
		{Series: 7, At: hour + 600, CPU: 20, Mem: 511 << 20, Disk: 1 << 30, Rd: 0, Wr: 2_000_000, Rx: 5, Tx: 1},
		{Series: 7, At: hour + 3300, CPU: 1000, Mem: 600 << 20, Disk: 2 << 30, Rd: 7, Wr: 8, Rx: 9, Tx: 10},
	}
	data := pack(hour, in)
	out, err := unpack(7, hour, data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %+v\nout %+v", in, out)
	}
	if _, err := unpack(7, hour, data[:len(data)-1]); err == nil {
		t.Error("a truncated row decoded without error")
	}
	if len(data) > 60 {
		t.Errorf("three buckets packed into %d bytes", len(data))
	}
}
