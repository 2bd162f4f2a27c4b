package replication_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/replication"
)

// env is compute with replication's guard wired as web does, a manual
// clock for replication, a plan of 1 vCPU / 1 GiB / 10 GiB and an image
// registered on every host added.
type env struct {
	db     *models.DB
	clock  *models.ManualClock
	hosts  *compute.Hosts
	plans  *compute.Plans
	images *compute.Images
	vms    *compute.VMs
	reps   *replication.Replicas

	admin  models.Actor
	adminV models.Viewer
	plan   *compute.Plan
	image  *compute.Image
}

func newEnv(t *testing.T, db *models.DB) *env {
	t.Helper()
	q := modelstest.NewQueue(t, db)
	clock := models.NewManualClock(time.Now().UTC().Truncate(time.Second))
	e := &env{db: db, clock: clock,
		hosts: compute.NewHosts(db, q, func(string) error { return nil }), plans: compute.NewPlans(db), images: compute.NewImages(db, q),
		vms: compute.NewVMs(db, q, compute.FixedEntitlement{VCPUs: 64, MemoryMiB: 65536, DiskGiB: 1000}, clock)}
	e.reps = replication.New(db, q, e.clock)
	e.vms.SetPlacementGuard(e.reps)
	e.admin = user(t, db, "admin@example.org", account.RoleAdmin)
	e.adminV = models.Viewer{UserID: e.admin.UserID, Admin: true}
	var err error
	if e.plan, err = e.plans.Create(context.Background(), e.admin, e.adminV, compute.PlanInput{Name: "small", VCPUs: 1, MemoryMiB: 1024, DiskGiB: 10}); err != nil {
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

// addHost registers a reachable host with memGiB of memory (no memory
// overcommit), 8 CPUs and a 100 GiB pool, and the image on it.
func (e *env) addHost(t *testing.T, name string, memGiB uint64) *compute.Host {
	t.Helper()
	ctx := context.Background()
	h, err := e.hosts.Add(ctx, e.admin, compute.HostInput{Name: name, URI: "qemu+tcp://" + name + "/system"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.hosts.StoreInventory(ctx, h.ID, compute.HostInventory{Hostname: name, CPUs: 8, MemoryBytes: memGiB << 30,
		Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: 100 << 30}}}); err != nil {
		t.Fatal(err)
	}
	img, err := e.images.Register(ctx, e.admin, e.adminV, compute.ImageInput{Name: "debian", HostID: h.ID, Pool: "default",
		Volume: "debian.qcow2", Format: "qcow2", VirtualSizeBytes: 2 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if e.image == nil {
		e.image = img
	}
	return h
}

func (e *env) create(t *testing.T, who models.Actor, v models.Viewer, name string) (*compute.VM, error) {
	t.Helper()
	vm, _, err := e.vms.Create(context.Background(), who, v, compute.VMInput{Name: name, PlanID: e.plan.ID, ImageID: e.image.ID})
	return vm, err
}

func (e *env) mustCreate(t *testing.T, who models.Actor, v models.Viewer, name string) *compute.VM {
	t.Helper()
	vm, err := e.create(t, who, v, name)
	if err != nil {
		t.Fatal(err)
	}
	// As if the create job had finished.
	if err := e.db.Gorm.Exec("UPDATE vms SET state = 'running' WHERE id = ?", vm.ID).Error; err != nil {
		t.Fatal(err)
	}
	return vm
}

func (e *env) status(t *testing.T, vmID string) *replication.Status {
	t.Helper()
	s, err := e.reps.Get(context.Background(), e.adminV, vmID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) advance(d time.Duration) { e.clock.Set(e.clock.Now().Add(d)) }

// compute1GiB is host name's inventory with 1 GiB of memory.
func compute1GiB(name string) compute.HostInventory {
	return compute.HostInventory{Hostname: name, CPUs: 8, MemoryBytes: 1 << 30,
		Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: 100 << 30}}}
}
