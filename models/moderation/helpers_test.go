package moderation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/moderation"
)

// committee is a stand-in for the elected appeals committee: the set of
// user ids in office.
type committee map[string]bool

func (c committee) InOffice(_ *gorm.DB, userID string, _ time.Time) (bool, error) {
	return c[userID], nil
}

// env is compute with a host, a network of six usable addresses, a plan,
// an image, and moderation on a manual clock.
type env struct {
	db    *models.DB
	clock *models.ManualClock
	vms   *compute.VMs
	mod   *moderation.Moderation
	comm  committee

	admin  models.Actor
	adminV models.Viewer
	mod1   models.Actor
	mod2   models.Actor
	plan   *compute.Plan
	image  *compute.Image
}

func newEnv(t *testing.T, db *models.DB) *env {
	t.Helper()
	ctx := context.Background()
	q := modelstest.NewQueue(t, db)
	clock := models.NewManualClock(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
	e := &env{db: db, clock: clock, comm: committee{},
		vms: compute.NewVMs(db, q, compute.FixedEntitlement{VCPUs: 64, MemoryMiB: 65536, DiskGiB: 1000}, clock)}
	e.mod = moderation.New(db, q, clock, e.comm)
	e.admin = user(t, db, "admin@example.org", account.RoleAdmin)
	e.adminV = models.Viewer{UserID: e.admin.UserID, Admin: true}
	e.mod1 = user(t, db, "mod1@example.org", account.RoleModerator)
	e.mod2 = user(t, db, "mod2@example.org", account.RoleModerator)
	hosts := compute.NewHosts(db, q, func(string) error { return nil })
	h, err := hosts.Add(ctx, e.admin, compute.HostInput{Name: "h1", URI: "qemu+tcp://h1/system"})
	if err != nil {
		t.Fatal(err)
	}
	if err := hosts.StoreInventory(ctx, h.ID, compute.HostInventory{Hostname: "h1", CPUs: 8, MemoryBytes: 64 << 30,
		Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: 100 << 30}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := compute.NewNetworks(db).Create(ctx, e.admin, e.adminV, compute.NetworkInput{HostID: h.ID, Name: "net",
		LibvirtNetwork: "default", CIDR: "198.51.100.0/29", Gateway: "198.51.100.1"}); err != nil {
		t.Fatal(err)
	}
	if e.plan, err = compute.NewPlans(db).Create(ctx, e.admin, e.adminV, compute.PlanInput{Name: "small", VCPUs: 1, MemoryMiB: 512, DiskGiB: 1}); err != nil {
		t.Fatal(err)
	}
	if e.image, err = compute.NewImages(db, q).Register(ctx, e.admin, e.adminV, compute.ImageInput{Name: "debian", HostID: h.ID, Pool: "default",
		Volume: "debian.qcow2", Format: "qcow2", VirtualSizeBytes: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	return e
}

func user(t *testing.T, db *models.DB, email string, roles ...account.Role) models.Actor {
	t.Helper()
	return modelstest.InsertUser(t, db, strings.Split(email, "@")[0], email, roles...)
}

func (e *env) member(t *testing.T, email string) (models.Actor, models.Viewer) {
	a := user(t, e.db, email, account.RoleMember)
	return a, models.Viewer{UserID: a.UserID}
}

// vm creates a running VM of who and returns it with its address.
func (e *env) vm(t *testing.T, who models.Actor, name string) (*compute.VM, string) {
	t.Helper()
	ctx := context.Background()
	vm, _, err := e.vms.Create(ctx, who, models.Viewer{UserID: who.UserID}, compute.VMInput{Name: name, PlanID: e.plan.ID, ImageID: e.image.ID})
	if err != nil {
		t.Fatal(err)
	}
	// As if the create job had finished.
	if err := e.db.Gorm.Exec("UPDATE vms SET state = 'running' WHERE id = ?", vm.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.db.Gorm.Exec("UPDATE tasks SET status = 'succeeded' WHERE vm_id = ?", vm.ID).Error; err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour) // reports below speak of times after the address was taken
	d, err := e.vms.Get(ctx, e.adminV, vm.ID)
	if err != nil {
		t.Fatal(err)
	}
	return vm, d.IPAddress
}

func (e *env) advance(d time.Duration) { e.clock.Set(e.clock.Now().Add(d)) }

func (e *env) abuse(ip string, seen time.Time, evidence string) (*moderation.Receipt, error) {
	return e.mod.ReportAbuse(context.Background(), "203.0.113.9", moderation.AbuseInput{IP: ip,
		SeenAt: seen.UTC().Format(time.RFC3339), Category: moderation.CategorySpam, Evidence: evidence})
}

// caseOf finds the case a report joined, through the panel.
func (e *env) caseOf(t *testing.T, ref string) *moderation.CaseDetail {
	t.Helper()
	ctx := context.Background()
	rows, err := e.mod.Cases(ctx, e.mod1, moderation.CaseFilter{State: "all"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		d, err := e.mod.Case(ctx, e.mod1, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, rep := range d.Reports {
			if rep.Ref == ref {
				return d
			}
		}
	}
	t.Fatalf("no case holds report %s", ref)
	return nil
}

func (e *env) vmRow(t *testing.T, id string) compute.VM {
	t.Helper()
	var vm compute.VM
	if err := e.db.Gorm.First(&vm, "id = ?", id).Error; err != nil {
		t.Fatal(err)
	}
	return vm
}

func modelsVMInput(e *env, name string) compute.VMInput {
	return compute.VMInput{Name: name, PlanID: e.plan.ID, ImageID: e.image.ID}
}
