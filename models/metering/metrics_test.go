package metering_test

import (
	"testing"
	"time"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/metering"
	"allmende/models/modelstest"
)

// Two readings 15 s apart become rates; the host's sample sums its VMs';
// the 5-minute and hourly rollups keep the mean; a 30-day graph reads them.
func TestMetricsRecordRatesAndRollup(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		vm := e.vm(t, e.alice, e.small, compute.VMRunning, time.Now().Add(-time.Hour))
		m := metering.NewMetrics(db)
		t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
		// Half a core, 1 MB/s written, 2 MB/s received.
		for i := 0; i < 40; i++ {
			at := t0.Add(time.Duration(i) * 15 * time.Second)
			r := metering.Reading{At: at, HostMemoryBytes: 16 << 30, HostFreeBytes: 8 << 30, VMs: []metering.VMReading{{
				VMID: vm.ID, CPUTimeNs: uint64(i) * 7_500_000_000, MemoryBytes: 512 << 20,
				WriteBytes: uint64(i) * 15_000_000, RxBytes: uint64(i) * 30_000_000}}}
			n, err := m.Record(ctx, e.host.ID, r)
			if err != nil {
				t.Fatal(err)
			}
			if want := 1; i > 0 && n != want {
				t.Fatalf("reading %d stored %d samples, want %d", i, n, want)
			}
		}
		if err := m.Rollup(ctx, t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := m.Rollup(ctx, t0.Add(3*time.Hour)); err != nil { // twice: nothing changes
			t.Fatal(err)
		}
		if n := modelstest.Count(t, db, "metric_5m", "1=1"); n != 2 { // one packed hour each for the VM and the host
			t.Errorf("5-minute rows = %d, want 2", n)
		}
		if n := modelstest.Count(t, db, "metric_1h", "1=1"); n != 2 {
			t.Errorf("hourly rows = %d, want 2", n)
		}
		for _, rng := range metering.Ranges {
			d, err := m.VMSeries(ctx, models.Viewer{UserID: e.alice.UserID}, vm.ID, rng, t0.Add(20*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.T) == 0 {
				t.Fatalf("%s: no points", rng)
			}
			last := len(d.T) - 1
			if got := *d.CPUPercent[last]; got != 50 {
				t.Errorf("%s: cpu = %v %%, want 50", rng, got)
			}
			if got := *d.DiskWriteMBs[last]; got != 1 {
				t.Errorf("%s: disk write = %v MB/s, want 1", rng, got)
			}
			if got := *d.NetRxMBs[last]; got != 2 {
				t.Errorf("%s: net rx = %v MB/s, want 2", rng, got)
			}
		}
		// Another member sees nothing of it.
		_, err := m.VMSeries(ctx, models.Viewer{UserID: e.bob.UserID}, vm.ID, metering.Range1h, t0)
		modelstest.WantCode(t, err, 404)
		// The host: half a core, its memory in use.
		hs, err := m.HostsNow(ctx, t0.Add(10*time.Minute), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		h := hs[e.host.ID]
		if h.CPU != 500 || h.Mem != 8<<30 || h.Wr != 1_000_000 {
			t.Errorf("host now = %+v", h)
		}
		// Past the retention everything goes.
		if err := m.Rollup(ctx, t0.Add(3*366*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"metric_raw", "metric_5m", "metric_1h"} {
			if n := modelstest.Count(t, db, table, "1=1"); n != 0 {
				t.Errorf("%s keeps %d rows past retention", table, n)
			}
		}
	})
}

// A gap (the VM was off) makes no rate, and a counter that went back
// (QEMU restarted) neither: the line breaks instead of showing a spike.
func TestMetricsGapsAndResets(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		vm := e.vm(t, e.alice, e.small, compute.VMRunning, time.Now())
		m := metering.NewMetrics(db)
		t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
		rec := func(at time.Time, cpu uint64) int {
			n, err := m.Record(ctx, e.host.ID, metering.Reading{At: at, VMs: []metering.VMReading{{VMID: vm.ID, CPUTimeNs: cpu}}})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		rec(t0, 1e12)
		if n := rec(t0.Add(15*time.Second), 1e12+15e9); n != 1 {
			t.Fatalf("stored %d, want 2", n)
		}
		if n := rec(t0.Add(30*time.Minute), 2e12); n != 0 {
			t.Errorf("after a gap stored %d, want 0", n)
		}
		if n := rec(t0.Add(30*time.Minute+15*time.Second), 1e9); n != 0 {
			t.Errorf("after a reset stored %d, want 0", n)
		}
		d, err := m.VMSeries(ctx, models.Viewer{UserID: e.alice.UserID}, vm.ID, metering.Range1h, t0.Add(31*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.T) != 1 || *d.CPUPercent[0] != 100 {
			t.Errorf("series = %v %v", d.T, d.CPUPercent)
		}
		// A domain the portal does not know is not stored.
		if n, err := m.Record(ctx, e.host.ID, metering.Reading{At: t0, VMs: []metering.VMReading{{VMID: "stranger"}}}); err != nil || n != 0 {
			t.Errorf("unknown domain: %d, %v", n, err)
		}
	})
}
