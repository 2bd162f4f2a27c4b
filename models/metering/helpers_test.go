package metering_test

import (
	"fmt"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

// env is a database with a host ("node-a": 8 CPUs, 16 GiB, a 100 GiB pool),
// plans "small" (1 vCPU, 1 GiB, 10 GiB) and "big" (2 vCPUs, 4 GiB, 40 GiB),
// an image, and two members. Rows are written directly: metering reads what
// compute stores, it does not drive it.
type env struct {
	db         *models.DB
	host       *compute.Host
	small, big *compute.Plan
	image      *compute.Image
	alice, bob models.Actor
	admin      models.Actor
	n          int
}

func newEnv(t *testing.T, db *models.DB) *env {
	t.Helper()
	e := &env{db: db}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.alice = modelstest.InsertUser(t, db, "Alice", "alice@example.org")
	e.bob = modelstest.InsertUser(t, db, "Bob", "bob@example.org")
	e.admin = modelstest.InsertUser(t, db, "Admin", "admin@example.org", account.RoleAdmin)
	e.host = &compute.Host{ID: "h-" + e.next(), Name: "node-a", URI: "test:///default", Role: compute.HostRoleCompute,
		CreatedAt: now, UpdatedAt: now, Reachable: true, RefreshedAt: &now, CPUs: 8, MemoryBytes: 16 << 30,
		Pools: `[{"name":"default","active":true,"capacity_bytes":107374182400,"allocation_bytes":10737418240,"available_bytes":96636764160}]`}
	e.small = &compute.Plan{ID: "p-small", Name: "small", VCPUs: 1, MemoryMiB: 1024, DiskGiB: 10, CreatedAt: now, UpdatedAt: now}
	e.big = &compute.Plan{ID: "p-big", Name: "big", VCPUs: 2, MemoryMiB: 4096, DiskGiB: 40, CreatedAt: now, UpdatedAt: now}
	e.image = &compute.Image{ID: "i-1", Name: "debian", HostID: e.host.ID, Pool: "default", Volume: "debian.qcow2", Format: "qcow2",
		Status: "ready", CreatedAt: now, UpdatedAt: now}
	for _, row := range []any{e.host, e.small, e.big, e.image} {
		if err := db.Gorm.Create(row).Error; err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) next() string { e.n++; return fmt.Sprint(e.n) }

// vm inserts a VM of owner in state at time at.
func (e *env) vm(t *testing.T, owner models.Actor, plan *compute.Plan, state compute.VMState, at time.Time) *compute.VM {
	t.Helper()
	n := e.next()
	vm := &compute.VM{ID: "vm-" + n, OwnerID: owner.UserID, Name: "vm" + n, State: state, PlanID: plan.ID, ImageID: e.image.ID,
		HostID: e.host.ID, MAC: fmt.Sprintf("52:54:00:00:00:%02x", e.n), ShutdownTimeoutSeconds: 60, AutoRestart: true,
		CreatedAt: at, UpdatedAt: at}
	if err := e.db.Gorm.Create(vm).Error; err != nil {
		t.Fatal(err)
	}
	return vm
}

// set changes a VM's columns at time at, as compute's updates do.
func (e *env) set(t *testing.T, vm *compute.VM, at time.Time, cols map[string]any) {
	t.Helper()
	cols["updated_at"] = at
	if err := e.db.Gorm.Table("vms").Where("id = ?", vm.ID).Updates(cols).Error; err != nil {
		t.Fatal(err)
	}
}
