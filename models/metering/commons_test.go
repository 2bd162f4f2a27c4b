package metering_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/metering"
	"allmende/models/modelstest"
)

// The commons: physical, promised and used per host and in total, how many
// more VMs of each plan fit, the cooperative in numbers; no member's name,
// email or VM in it.
func TestCommonsCapacityAndNoPersonalData(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		me := modelstest.NewMEnv(t, db)
		anna, _ := me.Member(t, "anna@example.org", "Anna Secret", 3)
		e := newEnv(t, db)
		ctx := t.Context()
		now := time.Now().UTC()
		e.vm(t, anna, e.big, compute.VMRunning, now)
		e.vm(t, e.bob, e.small, compute.VMStopped, now)
		gone := e.vm(t, e.bob, e.small, compute.VMRunning, now)
		e.set(t, gone, now, map[string]any{"state": compute.VMDeleted, "deleted_at": now})
		m := metering.NewMetrics(db)
		if _, err := m.Record(ctx, e.host.ID, metering.Reading{At: now.Add(-30 * time.Second), HostCPUTimeNs: 1e12,
			HostMemoryBytes: 16 << 30, HostFreeBytes: 12 << 30, HostDiskUsedBytes: 5 << 30}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Record(ctx, e.host.ID, metering.Reading{At: now.Add(-15 * time.Second), HostCPUTimeNs: 1e12 + 30e9,
			HostMemoryBytes: 16 << 30, HostFreeBytes: 12 << 30, HostDiskUsedBytes: 5 << 30}); err != nil {
			t.Fatal(err)
		}
		clock := models.NewManualClock(now)
		c := metering.NewCommons(db, metering.NewMetrics(db), clock)
		capa, err := c.Capacity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(capa.Hosts) != 1 {
			t.Fatalf("hosts = %+v", capa.Hosts)
		}
		h := capa.Hosts[0]
		// 8 CPUs; big (2 vCPU, 4 GiB, 40 GiB) + small (1, 1 GiB, 10 GiB); the deleted VM counts nothing.
		if h.VMs != 2 || h.CPU.Physical != 8 || h.CPU.Allocated != 3 || !h.CPU.Measured || h.CPU.Used != 2 {
			t.Errorf("cpu: %d VMs, %+v", h.VMs, h.CPU)
		}
		if h.MemoryGB.Allocated != float64(5<<30)/1e9 || h.MemoryGB.Used != float64(4<<30)/1e9 || h.DiskGB.Allocated != float64(50<<30)/1e9 {
			t.Errorf("memory %+v disk %+v", h.MemoryGB, h.DiskGB)
		}
		if capa.Total.CPU != h.CPU {
			t.Errorf("total %+v, host %+v", capa.Total.CPU, h.CPU)
		}
		// Room: 8 × 400 % − 3 = 29 vCPUs, 16 GiB − 5 = 11 GiB, 100 − 50 = 50 GiB.
		fits := map[string]int{}
		for _, p := range capa.Plans {
			fits[p.Plan] = p.Fit
		}
		if fits["small"] != 5 || fits["big"] != 1 {
			t.Errorf("fit = %v, want small 5 (disk), big 1 (disk)", fits)
		}
		coop, err := c.Cooperative(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if coop.Members != 1 || coop.Shares != 0 && coop.Shares != 3 {
			t.Errorf("cooperative = %+v", coop)
		}
		cov, err := c.Coverage(ctx, 12)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := json.Marshal([]any{capa, coop, cov})
		for _, secret := range []string{"Anna", "Secret", "anna@", "bob", anna.UserID, "vm1", "vm2"} {
			if strings.Contains(string(all), secret) {
				t.Errorf("the commons show %q", secret)
			}
		}
	})
}
