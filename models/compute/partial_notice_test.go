package compute_test

import (
	"context"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

// TestPartialNoticeWeighsRealVMs: with the VM domain's usage wired in, a
// partial notice that would leave a member's VMs above the entitlement of
// the shares kept is refused (§67b GenG); deleting the VM first lets it
// through.
func TestPartialNoticeWeighsRealVMs(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		m := modelstest.NewMEnv(t, db)
		m.Memberships.SetUsage(compute.OwnerUsage)
		e := newVMEnvWith(t, db, compute.MembershipEntitlements{Memberships: m.Memberships})
		who, ms := m.Member(t, "ada@example.org", "Ada Lovelace", 2)
		if err := m.Memberships.RecordPayment(ctx, m.Board1, ms.ID, 10000, m.Clock.Now(), ""); err != nil {
			t.Fatal(err)
		}
		v := models.Viewer{UserID: who.UserID}
		big := e.addPlan(t, "two-cpu", 2, 2048, 20)
		vm, _, err := e.vms.Create(ctx, who, v, compute.VMInput{Name: "web", PlanID: big.ID, ImageID: e.image.ID})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Memberships.GiveNotice(ctx, who, who.UserID, 1)
		if msg := modelstest.FieldErr(t, err, "shares"); !strings.Contains(msg, "Shrink or delete VMs first") {
			t.Errorf("message = %q", msg)
		}
		if err := e.vms.MarkDeleted(ctx, vm.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Memberships.GiveNotice(ctx, who, who.UserID, 1); err != nil {
			t.Fatalf("notice refused with no VM left: %v", err)
		}
	})
}
