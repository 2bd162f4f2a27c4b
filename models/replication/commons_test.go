package replication_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/modelstest"
	"allmende/models/replication"
)

// The members' view of replication per host: counts, the largest loss
// window, the oldest good copy and N+1 — no VM names, no owners.
func TestHostsHealthForTheCommons(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.addHost(t, "a", 16)
		e.addHost(t, "b", 16)
		m, mv := e.member(t, "secret-owner@example.org")
		one := e.mustCreate(t, m, mv, "secret-one")
		e.mustCreate(t, m, mv, "secret-two")
		spec, err := e.reps.BeginRun(ctx, one.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.advance(20 * time.Second)
		if err := e.reps.FinishRun(ctx, spec.RunID, replication.Outcome{BytesSent: 1 << 20, Duration: 20 * time.Second,
			Checkpoint: spec.NewCheckpoint, Verified: true}); err != nil {
			t.Fatal(err)
		}
		e.advance(time.Minute)
		hh, err := e.reps.HostsHealth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ha *replication.HostHealth
		vms, replicated := 0, 0
		for i := range hh {
			if hh[i].HostID == one.HostID {
				ha = &hh[i]
			}
			vms += hh[i].VMs
			replicated += hh[i].Replicated
		}
		if vms != 2 || replicated != 2 || len(hh) != 2 {
			t.Errorf("hosts: %+v", hh)
		}
		if ha == nil || ha.VMs != 1 || ha.Good != 1 || !ha.CanAbsorb || ha.OldestGood == nil ||
			!ha.OldestGood.Equal(spec.StartedAt) || ha.MaxLag < 80*time.Second {
			t.Fatalf("host of the copied VM: %+v", ha)
		}
		b, _ := json.Marshal(hh)
		for _, secret := range []string{"secret", one.ID} {
			if strings.Contains(string(b), secret) {
				t.Errorf("the members' replication view shows %q", secret)
			}
		}
	})
}
