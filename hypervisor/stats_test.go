package hypervisor_test

import (
	"testing"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// The host's own counters from a real libvirtd: CPUs, busy CPU time,
// memory in use between zero and the total.
func TestStatsOfHost(t *testing.T) {
	d := hvtest.Start(t)
	m := hypervisor.NewManager(hvtest.Logger(t))
	defer m.Close()
	st, err := m.Stats(t.Context(), d.URI())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if st.CPUs <= 0 || st.CPUTimeNs == 0 || st.MemoryBytes == 0 {
		t.Errorf("host counters missing: %+v", st)
	}
	if st.MemoryFreeBytes == 0 || st.MemoryFreeBytes >= st.MemoryBytes {
		t.Errorf("free memory %d of %d", st.MemoryFreeBytes, st.MemoryBytes)
	}
}
