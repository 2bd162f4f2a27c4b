package compute_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

// vmEnv wires the VM services on one database with one reachable host
// ("node-a": 8 CPUs, 16 GiB, a 100 GiB pool "default"), a network on it,
// a small plan and a ready image.
type vmEnv struct {
	db       *models.DB
	hosts    *compute.Hosts
	plans    *compute.Plans
	images   *compute.Images
	networks *compute.Networks
	keys     *compute.SSHKeys
	vms      *compute.VMs
	tasks    *compute.Tasks
	clock    *models.ManualClock // paces automatic restarts

	admin   models.Actor
	adminV  models.Viewer
	host    *compute.Host
	plan    *compute.Plan // 1 vCPU, 1024 MiB, 10 GiB
	image   *compute.Image
	network *compute.Network
}

// entitlement of every test member unless a test says otherwise.
var testEntitlement = compute.FixedEntitlement{VCPUs: 8, MemoryMiB: 8192, DiskGiB: 100}

func newVMEnv(t *testing.T, db *models.DB) *vmEnv {
	return newVMEnvWith(t, db, testEntitlement)
}

func newVMEnvWith(t *testing.T, db *models.DB, ent compute.EntitlementSource) *vmEnv {
	t.Helper()
	q := modelstest.NewQueue(t, db)
	clock := models.NewManualClock(time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC))
	e := &vmEnv{db: db, hosts: compute.NewHosts(db, q, acceptURI), plans: compute.NewPlans(db), images: compute.NewImages(db, q),
		networks: compute.NewNetworks(db), keys: compute.NewSSHKeys(db), vms: compute.NewVMs(db, q, ent, clock), tasks: compute.NewTasks(db, q),
		clock: clock}
	e.admin = vmUser(t, db, "admin@example.org", account.RoleAdmin)
	e.adminV = models.Viewer{UserID: e.admin.UserID, Admin: true}
	e.host = e.addHost(t, "node-a", 8, 16, 100)
	e.plan = e.addPlan(t, "small", 1, 1024, 10)
	e.image = e.addImage(t, "debian-13", e.host.ID)
	var err error
	e.network, err = e.networks.Create(context.Background(), e.admin, e.adminV, compute.NetworkInput{
		HostID: e.host.ID, Name: "default", LibvirtNetwork: "default", CIDR: "10.0.0.0/24", Gateway: "10.0.0.1", DNS: []string{"10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func vmUser(t *testing.T, db *models.DB, email string, roles ...account.Role) models.Actor {
	t.Helper()
	return modelstest.InsertUser(t, db, strings.Split(email, "@")[0], email, roles...)
}

// member makes an account with the member role and returns it with its viewer.
func (e *vmEnv) member(t *testing.T, email string) (models.Actor, models.Viewer) {
	t.Helper()
	a := vmUser(t, e.db, email, account.RoleMember)
	return a, models.Viewer{UserID: a.UserID}
}

func (e *vmEnv) addHost(t *testing.T, name string, cpus int, memGiB, poolGiB uint64) *compute.Host {
	t.Helper()
	ctx := context.Background()
	h, err := e.hosts.Add(ctx, e.admin, compute.HostInput{Name: name, URI: "qemu+tcp://" + name + "/system"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.hosts.StoreInventory(ctx, h.ID, compute.HostInventory{
		Hostname: name, CPUs: cpus, MemoryBytes: memGiB << 30, FreeMemoryBytes: memGiB << 30,
		Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: poolGiB << 30, AvailableBytes: poolGiB << 30}},
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (e *vmEnv) addPlan(t *testing.T, name string, vcpus, memMiB, diskGiB int) *compute.Plan {
	t.Helper()
	p, err := e.plans.Create(context.Background(), e.admin, e.adminV, compute.PlanInput{Name: name, VCPUs: vcpus, MemoryMiB: memMiB, DiskGiB: diskGiB})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *vmEnv) addImage(t *testing.T, name, hostID string) *compute.Image {
	t.Helper()
	img, err := e.images.Register(context.Background(), e.admin, e.adminV, compute.ImageInput{
		Name: name, HostID: hostID, Pool: "default", Volume: name + ".qcow2", Format: "qcow2", VirtualSizeBytes: 2 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func (e *vmEnv) create(t *testing.T, who models.Actor, v models.Viewer, name string) *compute.VM {
	t.Helper()
	vm, _, err := e.vms.Create(context.Background(), who, v, compute.VMInput{Name: name, PlanID: e.plan.ID, ImageID: e.image.ID})
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// force puts a VM into state with no active task, as if the last job had
// finished there.
func (e *vmEnv) force(t *testing.T, vmID string, state compute.VMState) {
	t.Helper()
	if err := e.db.Gorm.Exec("UPDATE tasks SET status = 'succeeded' WHERE vm_id = ? AND status IN ('queued', 'running')", vmID).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.db.Gorm.Exec("UPDATE vms SET state = ? WHERE id = ?", state, vmID).Error; err != nil {
		t.Fatal(err)
	}
}

func (e *vmEnv) state(t *testing.T, vmID string) compute.VMState {
	t.Helper()
	d, err := e.vms.Get(context.Background(), e.adminV, vmID)
	if err != nil {
		t.Fatal(err)
	}
	return d.State
}

// vmSnapshot counts the rows a VM action may write.
func vmSnapshot(t *testing.T, db *models.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"vms", "tasks", "river_job", "audit_events", "ip_allocations"} {
		out[table] = modelstest.Count(t, db, table, "")
	}
	return out
}

func sameVMSnapshot(t *testing.T, db *models.DB, before map[string]int64, what string) {
	t.Helper()
	for table, n := range vmSnapshot(t, db) {
		if n != before[table] {
			t.Errorf("%s: %s has %d rows, want %d", what, table, n, before[table])
		}
	}
}

func ed25519Key(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " " + comment
}
