package compute_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"testing"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
)

func TestCreateVMWritesVMTaskAndJobTogether(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		key, err := e.keys.Add(ctx, ada, adaV, compute.SSHKeyInput{Name: "laptop", PublicKey: ed25519Key(t, "ada@laptop")})
		if err != nil {
			t.Fatal(err)
		}
		before := vmSnapshot(t, db)
		vm, task, err := e.vms.Create(ctx, ada, adaV, compute.VMInput{Name: "web-1", PlanID: e.plan.ID, ImageID: e.image.ID,
			SSHKeyIDs: []string{key.ID}, UserData: "#cloud-config\npackages: [nginx]\n"})
		if err != nil {
			t.Fatal(err)
		}
		for table, want := range map[string]int64{"vms": 1, "tasks": 1, "river_job": 1, "audit_events": 1, "ip_allocations": 1} {
			if n := modelstest.Count(t, db, table, ""); n != before[table]+want {
				t.Errorf("%s grew by %d, want %d", table, n-before[table], want)
			}
		}
		if vm.State != compute.VMProvisioning || vm.HostID != e.host.ID || vm.OwnerID != ada.UserID {
			t.Errorf("vm = %+v", vm)
		}
		if !regexp.MustCompile(`^52:54:00(:[0-9a-f]{2}){3}$`).MatchString(vm.MAC) {
			t.Errorf("mac = %q", vm.MAC)
		}
		if task.Kind != compute.ActionCreate || task.Status != compute.TaskQueued || task.RiverJobID == nil || task.StartedBy != ada.Email {
			t.Errorf("task = %+v", task)
		}
		if n := modelstest.Count(t, db, "river_job", "id = ? AND kind = 'vm.create' AND CAST(args AS TEXT) LIKE ?", *task.RiverJobID, "%"+task.ID+"%"); n != 1 {
			t.Errorf("vm.create job for the task: %d", n)
		}

		j, err := e.vms.ForJob(ctx, vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := "allmende-" + vm.ID
		if j.DomainName != want || j.DiskVolume != want+"-disk" || j.SeedVolume != want+"-seed" {
			t.Errorf("names = %s %s %s", j.DomainName, j.DiskVolume, j.SeedVolume)
		}
		if j.IPAddress != "10.0.0.2" || j.PrefixLength != 24 || j.Gateway != "10.0.0.1" || j.NetworkLibvirtName != "default" ||
			len(j.DNS) != 1 || j.MAC != vm.MAC || j.HostURI != e.host.URI {
			t.Errorf("network of job view = %+v", j)
		}
		if j.VCPUs != 1 || j.MemoryMiB != 1024 || j.DiskGiB != 10 || j.ImageVolume != "debian-13.qcow2" || j.DiskPool != "default" {
			t.Errorf("sizes of job view = %+v", j)
		}
		if len(j.SSHAuthorizedKeys) != 1 || j.SSHAuthorizedKeys[0] != key.PublicKey || j.UserData == "" || j.Hostname != "web-1" {
			t.Errorf("guest of job view = %+v", j)
		}
		if j.ShutdownTimeout != compute.DefaultShutdownTimeout {
			t.Errorf("shutdown timeout = %s", j.ShutdownTimeout)
		}

		// The key was copied: deleting it later leaves the VM's key alone.
		if err := e.keys.Delete(ctx, ada, adaV, key.ID); err != nil {
			t.Fatal(err)
		}
		if j, _ := e.vms.ForJob(ctx, vm.ID); len(j.SSHAuthorizedKeys) != 1 {
			t.Error("VM lost its key with the member's key list")
		}
		d, err := e.vms.Get(ctx, adaV, vm.ID)
		if err != nil || d.IPAddress != "10.0.0.2" || d.PlanName != "small" || d.ActiveTask == nil {
			t.Fatalf("detail = %+v, %v", d, err)
		}
		u, err := e.vms.Usage(ctx, adaV)
		if err != nil || u.Used != (rulebook.Entitlement{VCPUs: 1, MemoryMiB: 1024, DiskGiB: 10}) {
			t.Errorf("usage = %+v, %v", u, err)
		}
	})
}

func TestCreateVMRefusals(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnvWith(t, db, compute.FixedEntitlement{VCPUs: 2, MemoryMiB: 2048, DiskGiB: 20})
		ada, adaV := e.member(t, "ada@example.org")
		bob, bobV := e.member(t, "bob@example.org")
		bobKey, err := e.keys.Add(ctx, bob, bobV, compute.SSHKeyInput{Name: "k", PublicKey: ed25519Key(t, "bob")})
		if err != nil {
			t.Fatal(err)
		}
		e.create(t, ada, adaV, "web")
		big := e.addPlan(t, "big", 2, 2048, 20)
		uploading, err := e.images.BeginUpload(ctx, e.admin, e.adminV, compute.UploadInput{Name: "new", HostID: e.host.ID,
			Pool: "default", Format: "qcow2", Path: "/data/x"})
		if err != nil {
			t.Fatal(err)
		}
		good := compute.VMInput{Name: "db", PlanID: e.plan.ID, ImageID: e.image.ID}
		with := func(f func(in *compute.VMInput)) compute.VMInput { in := good; f(&in); return in }

		before := vmSnapshot(t, db)
		for _, c := range []struct {
			in    compute.VMInput
			field string
		}{
			{with(func(in *compute.VMInput) { in.PlanID = big.ID }), "plan_id"}, // quota: 1+2 vCPUs of 2
			{with(func(in *compute.VMInput) { in.PlanID = "no-such-plan" }), "plan_id"},
			{with(func(in *compute.VMInput) { in.ImageID = "no-such-image" }), "image_id"},
			{with(func(in *compute.VMInput) { in.ImageID = uploading.ID }), "image_id"},
			{with(func(in *compute.VMInput) { in.SSHKeyIDs = []string{bobKey.ID} }), "ssh_key_ids"},
			{with(func(in *compute.VMInput) { in.Name = "WEB" }), "name"},
			{with(func(in *compute.VMInput) { in.Name = "-web" }), "name"},
			{with(func(in *compute.VMInput) { in.Name = "web_1" }), "name"},
			{with(func(in *compute.VMInput) { in.Name = fmt.Sprintf("%064d", 1) }), "name"},
			{with(func(in *compute.VMInput) { in.UserData = string(make([]byte, 16<<10+1)) }), "user_data"},
		} {
			_, _, err := e.vms.Create(ctx, ada, adaV, c.in)
			msg := modelstest.FieldErr(t, err, c.field)
			if c.field == "plan_id" && c.in.PlanID == big.ID {
				modelstest.WantCode(t, err, http.StatusUnprocessableEntity)
				if !regexp.MustCompile(`3 vCPUs of 2`).MatchString(msg) {
					t.Errorf("quota message = %q", msg)
				}
			}
		}
		sameVMSnapshot(t, db, before, "refused creates")

		// The same name is fine for another owner; an account without the
		// member role may not create at all.
		if _, _, err := e.vms.Create(ctx, bob, bobV, with(func(in *compute.VMInput) { in.Name = "web" })); err != nil {
			t.Fatal(err)
		}
		guest := vmUser(t, db, "guest@example.org")
		before = vmSnapshot(t, db)
		_, _, err = e.vms.Create(ctx, guest, models.Viewer{UserID: guest.UserID}, good)
		modelstest.WantCode(t, err, http.StatusForbidden)
		_, _, err = e.vms.Create(ctx, e.admin, e.adminV, good)
		modelstest.WantCode(t, err, http.StatusForbidden)
		sameVMSnapshot(t, db, before, "non-members")
	})
}

func TestEntitlementFromPaidShares(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		m := modelstest.NewMEnv(t, db)
		e := newVMEnvWith(t, db, compute.MembershipEntitlements{Memberships: m.Memberships})
		who, ms := m.Member(t, "paid@example.org", "Paid Member", 1)
		v := models.Viewer{UserID: who.UserID}
		// Admitted but nothing paid: no entitlement yet.
		_, _, err := e.vms.Create(ctx, who, v, compute.VMInput{Name: "web", PlanID: e.plan.ID, ImageID: e.image.ID})
		modelstest.FieldErr(t, err, "plan_id")
		if err := m.Memberships.RecordPayment(ctx, m.Board1, ms.ID, 5000, m.Clock.Now(), "share"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.vms.Create(ctx, who, v, compute.VMInput{Name: "web", PlanID: e.plan.ID, ImageID: e.image.ID}); err != nil {
			t.Fatal(err) // one share: 1 vCPU, 2048 MiB, 20 GiB
		}
	})
}

func TestPlacement(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnvWith(t, db, compute.FixedEntitlement{VCPUs: 100, MemoryMiB: 100 << 10, DiskGiB: 1000})
		ada, adaV := e.member(t, "ada@example.org")
		// node-b has more memory but is unreachable; node-c has a copy of
		// the image and 2 GiB of memory.
		b := e.addHost(t, "node-b", 8, 64, 100)
		if err := e.hosts.StoreUnreachable(ctx, b.ID, fmt.Errorf("connection refused")); err != nil {
			t.Fatal(err)
		}
		e.addImage(t, "debian-13", b.ID)
		c := e.addHost(t, "node-c", 2, 2, 100)
		e.addImage(t, "debian-13", c.ID)
		huge := e.addPlan(t, "huge", 2, 12<<10, 10)

		vm := e.create(t, ada, adaV, "one") // node-a has the most memory free
		if vm.HostID != e.host.ID {
			t.Errorf("first vm on %s, want node-a", vm.HostID)
		}
		_, _, err := e.vms.Create(ctx, ada, adaV, compute.VMInput{Name: "two", PlanID: huge.ID, ImageID: e.image.ID})
		if err != nil {
			t.Fatal(err)
		}
		// node-a: 16 GiB at 100 % minus 1 + 12 GiB leaves 3 GiB; node-c
		// has 2 GiB; a third huge VM fits nowhere.
		before := vmSnapshot(t, db)
		_, _, err = e.vms.Create(ctx, ada, adaV, compute.VMInput{Name: "three", PlanID: huge.ID, ImageID: e.image.ID})
		modelstest.WantCode(t, err, http.StatusServiceUnavailable)
		sameVMSnapshot(t, db, before, "no room")

		// Raising node-a's memory overcommit makes room.
		err = e.hosts.SetVMSettings(ctx, e.admin, e.adminV, e.host.ID, compute.HostVMSettings{CPUOvercommitPercent: 400, MemoryOvercommitPercent: 200})
		if err != nil {
			t.Fatal(err)
		}
		three, _, err := e.vms.Create(ctx, ada, adaV, compute.VMInput{Name: "three", PlanID: huge.ID, ImageID: e.image.ID})
		if err != nil {
			t.Fatal(err)
		}
		if three.HostID != e.host.ID {
			t.Errorf("third vm on %s, want node-a", three.HostID)
		}
		// A small VM lands on a reachable host with a copy and room; on
		// node-c, which has no network, it gets no address.
		four := e.create(t, ada, adaV, "four")
		if four.HostID == b.ID {
			t.Error("placed on an unreachable host")
		}
		if four.HostID == c.ID {
			j, err := e.vms.ForJob(ctx, four.ID)
			if err != nil || j.IPAddress != "" {
				t.Errorf("vm on a host without networks has address %q, %v", j.IPAddress, err)
			}
		}
		modelstest.WantCode(t, e.hosts.SetVMSettings(ctx, e.admin, e.adminV, e.host.ID, compute.HostVMSettings{CPUOvercommitPercent: 50}), http.StatusUnprocessableEntity)
	})
}

func TestConcurrentCreatesGetUniqueAddresses(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		const n = 10
		type who struct {
			a models.Actor
			v models.Viewer
		}
		members := make([]who, n)
		for i := range members {
			members[i].a, members[i].v = e.member(t, fmt.Sprintf("m%d@example.org", i))
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = e.vms.Create(ctx, members[i].a, members[i].v, compute.VMInput{Name: "vm", PlanID: e.plan.ID, ImageID: e.image.ID})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("create %d: %v", i, err)
			}
		}
		if got := modelstest.Count(t, db, "ip_allocations", ""); got != n {
			t.Errorf("allocations = %d, want %d", got, n)
		}
		if got := modelstest.Count(t, db, "(SELECT DISTINCT address FROM ip_allocations) AS x", ""); got != n {
			t.Errorf("distinct addresses = %d, want %d", got, n)
		}
		if got := modelstest.Count(t, db, "(SELECT DISTINCT mac FROM vms) AS x", ""); got != n {
			t.Errorf("distinct macs = %d, want %d", got, n)
		}
		if got := modelstest.Count(t, db, "tasks", "status = 'queued'"); got != n {
			t.Errorf("queued tasks = %d, want %d", got, n)
		}
	})
}
