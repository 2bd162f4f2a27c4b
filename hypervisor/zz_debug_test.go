package hypervisor_test

import (
	"testing"
	"time"

	"allmende/hypervisor/hvtest"
)

func TestZZDebug(t *testing.T) {
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	for i := 0; i < 4; i++ {
		s := time.Now()
		_, err := m.Inventory(ctx, d.URI())
		t.Logf("inventory %d: %v %v", i, time.Since(s), err)
	}
	s := time.Now()
	t.Log(virsh(t, d.URI(), "nodeinfo"))
	t.Logf("virsh %v", time.Since(s))
}
