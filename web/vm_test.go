package web_test

import (
	"allmende/static"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/crypto/ssh"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
)

// vmWorld is a running portal with what VMs need, set up through the
// domain on the portal's database: one reachable host with room, a small
// plan that fits a member's entitlement and a big one that does not, a
// ready image, two members with two paid shares each (2 vCPUs, 4 GiB,
// 40 GiB), an admin, their tokens and signed-in page clients.
type vmWorld struct {
	base  string
	d     *domain
	small *compute.Plan
	big   *compute.Plan
	image *compute.Image

	mia, otto, admin                *client
	miaToken, ottoToken, adminToken string
}

// vmNoQueue drops jobs: the test host must not get the inventory refresh
// that Hosts.Add asks for, which would find no libvirt there and mark the
// host unreachable.
type vmNoQueue struct{}

func (vmNoQueue) InsertTx(context.Context, *sql.Tx, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{}}, nil
}

func (vmNoQueue) InsertManyTx(context.Context, *sql.Tx, []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	return nil, nil
}

func newVMWorld(t *testing.T) *vmWorld {
	t.Helper()
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	ctx := context.Background()
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	for _, m := range []struct{ email, name string }{{"mia@example.org", "Mia Member"}, {"otto@example.org", "Otto Other"}} {
		d.apply(t, m.email, m.name, 2)
		admitWithPayment(t, d, 10000, "anna@board.example", "ben@board.example")
	}
	u, err := d.accounts.ByEmail(ctx, "admin@example.org")
	if err != nil {
		t.Fatal(err)
	}
	admin, av := models.Actor{UserID: u.ID, Email: u.Email}, models.Viewer{UserID: u.ID, Admin: true}

	// No libvirt listens on the host's socket: the VM jobs fail and are
	// retried, so VMs stay in their transitional states while a test runs;
	// tests that need another state set it with force.
	hosts := compute.NewHosts(d.db, vmNoQueue{}, func(string) error { return nil })
	host, err := hosts.Add(ctx, admin, compute.HostInput{Name: "node-a", URI: "qemu+unix:///system?socket=" + filepath.Join(cfg.DataDir, "no-libvirt.sock")})
	if err != nil {
		t.Fatal(err)
	}
	if err := hosts.StoreInventory(ctx, host.ID, compute.HostInventory{Hostname: "node-a", CPUs: 8, MemoryBytes: 16 << 30,
		FreeMemoryBytes: 16 << 30, Pools: []compute.HostPool{{Name: "default", Active: true, CapacityBytes: 100 << 30, AvailableBytes: 100 << 30}}}); err != nil {
		t.Fatal(err)
	}
	plans := compute.NewPlans(d.db)
	w := &vmWorld{base: base, d: d}
	if w.small, err = plans.Create(ctx, admin, av, compute.PlanInput{Name: "small", VCPUs: 1, MemoryMiB: 1024, DiskGiB: 10}); err != nil {
		t.Fatal(err)
	}
	if w.big, err = plans.Create(ctx, admin, av, compute.PlanInput{Name: "big", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 50}); err != nil {
		t.Fatal(err)
	}
	if w.image, err = compute.NewImages(d.db, vmNoQueue{}).Register(ctx, admin, av, compute.ImageInput{Name: "debian-13",
		HostID: host.ID, Pool: "default", Volume: "debian-13.qcow2", Format: "qcow2", VirtualSizeBytes: 2 << 30}); err != nil {
		t.Fatal(err)
	}
	w.miaToken, w.ottoToken, w.adminToken = tokenFor(t, d, "mia@example.org"), tokenFor(t, d, "otto@example.org"), tokenFor(t, d, "admin@example.org")
	w.mia, w.otto, w.admin = newClient(t, base), newClient(t, base), newClient(t, base)
	w.mia.login("mia@example.org", "correct horse battery")
	w.otto.login("otto@example.org", "correct horse battery")
	w.admin.login("admin@example.org", "correct horse battery")
	return w
}

type vmJSON struct {
	ID                     string `json:"id"`
	Name                   string `json:"name"`
	State                  string `json:"state"`
	PlanID                 string `json:"plan_id"`
	HostName               string `json:"host_name"`
	ShutdownTimeoutSeconds int    `json:"shutdown_timeout_seconds"`
	Tasks                  []struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	} `json:"tasks"`
}

type taskJSON struct {
	ID        string  `json:"id"`
	VMID      string  `json:"vm_id"`
	Kind      string  `json:"kind"`
	Status    string  `json:"status"`
	StartedBy string  `json:"started_by"`
	RetryOf   *string `json:"retry_of"`
	Error     string  `json:"error"`
	Log       []struct {
		Line string `json:"line"`
	} `json:"log"`
}

type acceptedJSON struct {
	VM   *vmJSON   `json:"vm"`
	Task *taskJSON `json:"task"`
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v in %q", err, body)
	}
	return v
}

// createVM creates a VM of the small plan through the API and returns it
// with its create task.
func (w *vmWorld) createVM(t *testing.T, token, name string, keyIDs ...string) (vmJSON, taskJSON) {
	t.Helper()
	keys, _ := json.Marshal(append([]string{}, keyIDs...))
	resp, body := apiJSON(w.mia, http.MethodPost, "/api/v1/vms", token,
		fmt.Sprintf(`{"name":%q,"plan_id":%q,"image_id":%q,"ssh_key_ids":%s}`, name, w.small.ID, w.image.ID, keys))
	wantStatus(t, resp, http.StatusAccepted)
	a := decode[acceptedJSON](t, body)
	if a.VM == nil || a.Task == nil {
		t.Fatalf("accepted without vm or task: %s", body)
	}
	return *a.VM, *a.Task
}

// force puts a VM into state with no active task, as if its last job had
// finished there.
func (w *vmWorld) force(t *testing.T, vmID string, state compute.VMState) {
	t.Helper()
	if err := w.d.db.Gorm.Exec("UPDATE tasks SET status = 'succeeded', finished_at = ? WHERE vm_id = ? AND status IN ('queued', 'running')",
		time.Now().UTC(), vmID).Error; err != nil {
		t.Fatal(err)
	}
	if err := w.d.db.Gorm.Exec("UPDATE vms SET state = ?, state_reason = '' WHERE id = ?", state, vmID).Error; err != nil {
		t.Fatal(err)
	}
}

func (w *vmWorld) state(t *testing.T, vmID string) string {
	t.Helper()
	var s []string
	if err := w.d.db.Gorm.Raw("SELECT state FROM vms WHERE id = ?", vmID).Scan(&s).Error; err != nil || len(s) != 1 {
		t.Fatalf("state of %s: %v %v", vmID, s, err)
	}
	return s[0]
}

func newSSHKey(t *testing.T, comment string) string {
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

func wantAPIError(t *testing.T, resp *http.Response, body string, status int, code string) {
	t.Helper()
	wantStatus(t, resp, status)
	if e := decodeAPIError(t, body); e.Code != code || e.Message == "" {
		t.Errorf("%s %s: error %+v, want code %s", resp.Request.Method, resp.Request.URL.Path, e, code)
	}
}

func TestVMCreatePagesAndSSHKeys(t *testing.T) {
	w := newVMWorld(t)
	mia := w.mia

	resp, body := mia.get("/vms/new")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "small — 1 vCPU, 1 GiB memory, 10 GiB disk", "debian-13", `href="/ssh-keys"`,
		"You have no SSH keys yet", "4 GiB", "40 GiB")

	// SSH keys: a bad key is a field error, a good one is listed with its
	// fingerprint and offered, ticked, on the create form.
	resp, body = mia.submit("/ssh-keys", "/ssh-keys", url.Values{"name": {"laptop"}, "public_key": {"ssh-rsa AAAA nonsense"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "This is not an SSH public key", `aria-invalid="true"`, "laptop")
	resp, _ = mia.submit("/ssh-keys", "/ssh-keys", url.Values{"name": {"laptop"}, "public_key": {newSSHKey(t, "mia@laptop")}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = mia.get("/ssh-keys")
	wantContains(t, body, "laptop", "SHA256:", "Key laptop added")
	var keyID string
	if err := w.d.db.Gorm.Raw("SELECT id FROM ssh_keys WHERE name = 'laptop'").Scan(&keyID).Error; err != nil || keyID == "" {
		t.Fatalf("key not stored: %v", err)
	}
	_, body = mia.get("/vms/new")
	wantContains(t, body, `value="`+keyID+`" checked`)

	form := func(name, planID, userData string) url.Values {
		return url.Values{"name": {name}, "plan_id": {planID}, "image_id": {w.image.ID}, "ssh_key_ids": {keyID}, "user_data": {userData}}
	}
	resp, _ = mia.submit("/vms/new", "/vms", form("web-1", w.small.ID, "#cloud-config\npackages: [nginx]\n"))
	wantStatus(t, resp, http.StatusSeeOther)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/vms/") {
		t.Fatalf("created VM redirects to %q", loc)
	}
	vmID := strings.TrimPrefix(loc, "/vms/")
	if n := w.d.count(t, "vms", "id = ? AND ssh_authorized_keys LIKE 'ssh-ed25519 %mia@laptop' AND user_data LIKE '#cloud-config%'", vmID); n != 1 {
		t.Errorf("VM does not carry the key and user data")
	}

	// The list and the VM's page poll while the VM is provisioning.
	_, body = mia.get("/vms")
	wantContains(t, body, "web-1 is being created.", "web-1", `data-state="provisioning"`, `hx-get="/vms/table"`, `hx-trigger="every 2s"`, "node-a", "small", "debian-13")
	resp, body = mia.get("/vms/table")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="vms"`, "web-1")
	if strings.Contains(body, "<html") {
		t.Error("the table partial is a whole page")
	}
	_, body = mia.get(loc)
	wantContains(t, body, "<h1>web-1</h1>", `hx-get="/vms/`+vmID+`/status"`, "forced power-off after 60 s", "create")
	resp, body = mia.get(loc + "/status")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="vm-status"`, `data-state="provisioning"`)

	// Rejected forms come back with the problem marked and the input kept.
	resp, body = mia.submit("/vms/new", "/vms", form("web-1", w.small.ID, ""))
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "You have a virtual machine of this name already", `aria-invalid="true"`, `value="web-1"`)
	resp, body = mia.submit("/vms/new", "/vms", form("huge", w.big.ID, "#cloud-config kept"))
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "exceed what your paid shares entitle you to", "5 vCPUs of 2", `value="huge"`, "#cloud-config kept")
	resp, body = mia.submit("/vms/new", "/vms", form("-bad-", "no-such-plan", ""))
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Use 1 to 63 letters", `value="-bad-"`)
	if n := w.d.count(t, "vms", ""); n != 1 {
		t.Errorf("%d VMs after the rejected forms, want 1", n)
	}

	// The task history and the task's page.
	_, body = mia.get("/tasks")
	wantContains(t, body, "Task history", "web-1", "create", "mia@example.org")
	var taskID string
	if err := w.d.db.Gorm.Raw("SELECT id FROM tasks WHERE vm_id = ?", vmID).Scan(&taskID).Error; err != nil || taskID == "" {
		t.Fatalf("no task: %v", err)
	}
	resp, body = mia.get("/tasks/" + taskID)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Task create of web-1", "mia@example.org", "Queued")
	resp, body = mia.get("/tasks/" + taskID + "/log")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="task"`)

	// A deleted key leaves the list; the VM keeps its copy.
	resp, _ = mia.submit("/ssh-keys", "/ssh-keys/"+keyID+"/delete", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = mia.get("/ssh-keys")
	wantContains(t, body, "You have no SSH keys yet")
	if n := w.d.count(t, "vms", "ssh_authorized_keys LIKE '%mia@laptop'"); n != 1 {
		t.Error("the VM lost its key with the key list")
	}

	// Somebody without the member role cannot create VMs.
	stranger := newClient(t, w.base)
	if _, err := w.d.accounts.Register(context.Background(), models.SystemActor("test"),
		account.RegisterInput{Email: "sam@example.org", Name: "Sam", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	stranger.login("sam@example.org", "correct horse battery")
	resp, body = stranger.submit("/vms/new", "/vms", form("mine", w.small.ID, ""))
	wantStatus(t, resp, http.StatusForbidden)
	wantContains(t, body, "Only members of the cooperative can create virtual machines")
}

func TestVMAPICreateAndActions(t *testing.T) {
	w := newVMWorld(t)
	c, tok := w.mia, w.miaToken

	resp, body := c.api(http.MethodGet, "/api/v1/plans", tok)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"name":"small"`, `"memory_mib":1024`, `"name":"big"`)
	resp, body = c.api(http.MethodGet, "/api/v1/images", tok)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"name":"debian-13"`, `"status":"ready"`)

	// SSH keys over the API.
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/ssh-keys", tok, `{"name":"ci","public_key":"not a key"}`)
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	if e := decodeAPIError(t, body); e.Fields["public_key"] == "" {
		t.Errorf("no public_key field error: %+v", e)
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/ssh-keys", tok, fmt.Sprintf(`{"name":"ci","public_key":%q}`, newSSHKey(t, "ci")))
	wantStatus(t, resp, http.StatusCreated)
	key := decode[struct {
		ID          string `json:"id"`
		Fingerprint string `json:"fingerprint"`
	}](t, body)
	if key.ID == "" || !strings.HasPrefix(key.Fingerprint, "SHA256:") {
		t.Fatalf("key: %s", body)
	}
	_, body = c.api(http.MethodGet, "/api/v1/ssh-keys", tok)
	wantContains(t, body, key.Fingerprint)

	vm, task := w.createVM(t, tok, "api-1", key.ID)
	if vm.Name != "api-1" || vm.State != "provisioning" || vm.HostName != "node-a" || task.Kind != "create" ||
		task.Status != "queued" || task.StartedBy != "mia@example.org" || task.VMID != vm.ID {
		t.Errorf("created %+v with %+v", vm, task)
	}
	resp, body = c.api(http.MethodGet, "/api/v1/jobs/"+task.ID, tok)
	wantStatus(t, resp, http.StatusOK)
	if j := decode[taskJSON](t, body); j.ID != task.ID || j.Kind != "create" {
		t.Errorf("job: %s", body)
	}
	_, body = c.api(http.MethodGet, "/api/v1/vms", tok)
	wantContains(t, body, `"name":"api-1"`)
	resp, body = c.api(http.MethodGet, "/api/v1/vms/"+vm.ID, tok)
	wantStatus(t, resp, http.StatusOK)
	if got := decode[vmJSON](t, body); got.ID != vm.ID || len(got.Tasks) != 1 || got.Tasks[0].ID != task.ID {
		t.Errorf("vm: %s", body)
	}

	// Duplicate names, a full quota and malformed bodies are refused.
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/vms", tok, fmt.Sprintf(`{"name":"API-1","plan_id":%q,"image_id":%q}`, w.small.ID, w.image.ID))
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	if e := decodeAPIError(t, body); e.Fields["name"] == "" {
		t.Errorf("duplicate name: %+v", e)
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/vms", tok, fmt.Sprintf(`{"name":"huge","plan_id":%q,"image_id":%q}`, w.big.ID, w.image.ID))
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	if e := decodeAPIError(t, body); !strings.Contains(e.Message, "exceed what your paid shares entitle you to") {
		t.Errorf("quota: %+v", e)
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/vms", tok, `{"name":"x","plan":"small"}`)
	wantAPIError(t, resp, body, http.StatusBadRequest, "bad_request")

	// Actions the state does not allow are 409, in the API and as a flash.
	resp, body = c.api(http.MethodPost, "/api/v1/vms/"+vm.ID+"/start", tok)
	wantAPIError(t, resp, body, http.StatusConflict, "conflict")
	w.force(t, vm.ID, compute.VMStopped)
	resp, body = c.api(http.MethodPost, "/api/v1/vms/"+vm.ID+"/shutdown", tok)
	wantAPIError(t, resp, body, http.StatusConflict, "conflict")
	resp, _ = c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/reboot", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/vms/" + vm.ID)
	wantContains(t, body, "A virtual machine that is stopped cannot be rebooted.", `action="/vms/`+vm.ID+`/start"`)
	if strings.Contains(body, `action="/vms/`+vm.ID+`/reboot"`) || strings.Contains(body, `/console"`) {
		t.Error("a stopped VM offers reboot or the console")
	}

	// Start queues a task; while it runs, nothing else may start.
	resp, body = c.api(http.MethodPost, "/api/v1/vms/"+vm.ID+"/start", tok)
	wantStatus(t, resp, http.StatusAccepted)
	if a := decode[acceptedJSON](t, body); a.Task == nil || a.Task.Kind != "start" || resp.Header.Get("Location") != "/api/v1/jobs/"+a.Task.ID {
		t.Errorf("start: %s (Location %q)", body, resp.Header.Get("Location"))
	}
	if s := w.state(t, vm.ID); s != "starting" {
		t.Errorf("state after start = %s", s)
	}
	resp, body = c.api(http.MethodPost, "/api/v1/vms/"+vm.ID+"/poweroff", tok)
	wantAPIError(t, resp, body, http.StatusConflict, "conflict")

	// Running: shutdown shows its timeout, which both forms can change.
	w.force(t, vm.ID, compute.VMRunning)
	_, body = c.get("/vms/" + vm.ID)
	wantContains(t, body, "Shut down", "forced power-off after 60 s", `href="/vms/`+vm.ID+`/console"`)
	resp, body = c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/shutdown-timeout", url.Values{"shutdown_timeout": {"5"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Use 10 seconds to 1 hour.", `value="5"`)
	resp, body = c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/shutdown-timeout", url.Values{"shutdown_timeout": {"soon"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a whole number of seconds")
	resp, _ = c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/shutdown-timeout", url.Values{"shutdown_timeout": {"120"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/vms/" + vm.ID)
	wantContains(t, body, "forced power-off after 120 s")
	resp, body = apiJSON(c, http.MethodPatch, "/api/v1/vms/"+vm.ID, tok, `{"shutdown_timeout_seconds":90}`)
	wantStatus(t, resp, http.StatusOK)
	if a := decode[acceptedJSON](t, body); a.VM == nil || a.VM.ShutdownTimeoutSeconds != 90 || a.Task != nil {
		t.Errorf("patch timeout: %s", body)
	}
	resp, body = apiJSON(c, http.MethodPatch, "/api/v1/vms/"+vm.ID, tok, `{"shutdown_timeout_seconds":99999999999}`)
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	if e := decodeAPIError(t, body); e.Fields["shutdown_timeout_seconds"] == "" {
		t.Errorf("patch timeout field: %+v", e)
	}
	resp, body = apiJSON(c, http.MethodPatch, "/api/v1/vms/"+vm.ID, tok, `{}`)
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	// More vCPUs need a stopped VM: a conflict, as a flash on the page.
	resp, body = apiJSON(c, http.MethodPatch, "/api/v1/vms/"+vm.ID, tok, fmt.Sprintf(`{"plan_id":%q}`, w.big.ID))
	wantAPIError(t, resp, body, http.StatusConflict, "conflict")
	resp, _ = c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/resize", url.Values{"plan_id": {w.big.ID}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/vms/" + vm.ID)
	wantContains(t, body, "Shut the virtual machine down to change its vCPUs or memory")

	// Stopped, the big plan exceeds the quota; a plan that does not exist
	// is a field error, with the choice kept.
	w.force(t, vm.ID, compute.VMStopped)
	resp, body = apiJSON(c, http.MethodPatch, "/api/v1/vms/"+vm.ID, tok, fmt.Sprintf(`{"plan_id":%q}`, w.big.ID))
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	if e := decodeAPIError(t, body); !strings.Contains(e.Fields["plan_id"], "exceed") {
		t.Errorf("resize quota: %+v", e)
	}
	resp, body = c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/resize", url.Values{"plan_id": {w.big.ID}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "exceed what your paid shares entitle you to", `aria-invalid="true"`)
	resp, body = c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/resize", url.Values{"plan_id": {"no-such-plan"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose one of the plans on offer.")

	// The console of a VM that is not running is refused before any
	// upgrade; the page sends the member back.
	resp, _ = c.get("/vms/" + vm.ID + "/console/ws")
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = c.get("/vms/" + vm.ID + "/console")
	wantStatus(t, resp, http.StatusSeeOther)

	// Delete needs the exact name, on the page and in the API.
	resp, body = c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/delete", url.Values{"confirm": {"api-2"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Type the name of the virtual machine, api-1, to confirm.", `value="api-2"`)
	resp, body = c.api(http.MethodDelete, "/api/v1/vms/"+vm.ID, tok)
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	resp, body = apiJSON(c, http.MethodDelete, "/api/v1/vms/"+vm.ID, tok, `{"confirm":"API-1"}`)
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	if s := w.state(t, vm.ID); s != "stopped" {
		t.Fatalf("state after refused deletes = %s", s)
	}
	resp, body = c.api(http.MethodDelete, "/api/v1/vms/"+vm.ID+"?confirm=api-1", tok)
	wantStatus(t, resp, http.StatusAccepted)
	if a := decode[acceptedJSON](t, body); a.Task == nil || a.Task.Kind != "delete" {
		t.Errorf("delete: %s", body)
	}
	if s := w.state(t, vm.ID); s != "deleting" {
		t.Errorf("state after delete = %s", s)
	}

	// The page's delete form, for a second VM.
	vm2, _ := w.createVM(t, tok, "api-2")
	w.force(t, vm2.ID, compute.VMStopped)
	resp, _ = c.submit("/vms/"+vm2.ID, "/vms/"+vm2.ID+"/delete", url.Values{"confirm": {"api-2"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/vms" {
		t.Errorf("delete redirects to %q", loc)
	}
	if s := w.state(t, vm2.ID); s != "deleting" {
		t.Errorf("state after page delete = %s", s)
	}
}

func TestTaskRetry(t *testing.T) {
	w := newVMWorld(t)
	c := w.mia
	vm, task := w.createVM(t, w.miaToken, "flaky")
	ctx := context.Background()
	q := models.Queue(vmNoQueue{})
	tasks := compute.NewTasks(w.d.db, q)
	if err := tasks.Fail(ctx, task.ID, errors.New("no room in pool default")); err != nil {
		t.Fatal(err)
	}
	d, err := tasks.Get(ctx, models.Viewer{Admin: true}, task.ID)
	if err != nil || d.Status != compute.TaskFailed {
		t.Fatalf("task not failed: %+v %v", d, err)
	}

	resp, body := c.get("/tasks/" + task.ID)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `data-status="failed"`, "task-error", d.Error, `action="/tasks/`+task.ID+`/retry"`, "failed: ")
	if strings.Contains(body, `hx-get="/tasks/`) {
		t.Error("a finished task keeps polling")
	}
	_, body = c.get("/vms/" + vm.ID)
	wantContains(t, body, `data-state="error"`, d.Error)

	resp, _ = c.submit("/tasks/"+task.ID, "/tasks/"+task.ID+"/retry", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/tasks/") || loc == "/tasks/"+task.ID {
		t.Fatalf("retry redirects to %q", loc)
	}
	resp, body = c.api(http.MethodGet, "/api/v1/jobs/"+strings.TrimPrefix(loc, "/tasks/"), w.miaToken)
	wantStatus(t, resp, http.StatusOK)
	if j := decode[taskJSON](t, body); j.Kind != "create" || j.RetryOf == nil || *j.RetryOf != task.ID {
		t.Errorf("retry: %s", body)
	}
	if s := w.state(t, vm.ID); s != "provisioning" {
		t.Errorf("state after retry = %s", s)
	}

	// The old task is still failed, but its VM is busy with the retry now:
	// refused, as a flash.
	resp, _ = c.submit("/tasks/"+task.ID, "/tasks/"+task.ID+"/retry", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/tasks/" + task.ID)
	wantContains(t, body, "flash error")
}

// dialConsole opens the console WebSocket with the client's cookies.
func dialConsole(t *testing.T, c *client, vmID string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.base, "http")+"/vms/"+vmID+"/console/ws",
		&websocket.DialOptions{HTTPClient: c.http})
	if err == nil {
		ws.CloseNow()
	}
	return resp, err
}

// Every VM page, form, console, task and key of one member is "not found"
// for another member, open to an admin (keys excepted: they are private
// even from admins), and needs a sign-in or token.
func TestVMAuthorisationMatrix(t *testing.T) {
	w := newVMWorld(t)
	resp, body := apiJSON(w.mia, http.MethodPost, "/api/v1/ssh-keys", w.miaToken, fmt.Sprintf(`{"name":"k","public_key":%q}`, newSSHKey(t, "k")))
	wantStatus(t, resp, http.StatusCreated)
	keyID := decode[struct {
		ID string `json:"id"`
	}](t, body).ID
	vm, task := w.createVM(t, w.miaToken, "private", keyID)
	w.force(t, vm.ID, compute.VMStopped)
	vmp, tp := "/vms/"+vm.ID, "/tasks/"+task.ID

	pages := []string{vmp, vmp + "/status", vmp + "/console", vmp + "/console/ws", tp, tp + "/log"}
	posts := map[string]url.Values{
		vmp + "/start": {}, vmp + "/shutdown": {}, vmp + "/poweroff": {}, vmp + "/reboot": {}, vmp + "/reprovision": {},
		vmp + "/resize":                  {"plan_id": {w.big.ID}},
		vmp + "/shutdown-timeout":        {"shutdown_timeout": {"300"}},
		vmp + "/delete":                  {"confirm": {"private"}},
		tp + "/retry":                    {},
		"/ssh-keys/" + keyID + "/delete": {},
	}
	type call struct{ method, path, body string }
	apiCalls := []call{
		{http.MethodGet, "/api/v1/vms/" + vm.ID, ""},
		{http.MethodPatch, "/api/v1/vms/" + vm.ID, `{"shutdown_timeout_seconds":300}`},
		{http.MethodDelete, "/api/v1/vms/" + vm.ID + "?confirm=wrong", ""},
		{http.MethodPost, "/api/v1/vms/" + vm.ID + "/start", ""},
		{http.MethodPost, "/api/v1/vms/" + vm.ID + "/shutdown", ""},
		{http.MethodPost, "/api/v1/vms/" + vm.ID + "/poweroff", ""},
		{http.MethodPost, "/api/v1/vms/" + vm.ID + "/reboot", ""},
		{http.MethodPost, "/api/v1/vms/" + vm.ID + "/reprovision", ""},
		{http.MethodGet, "/api/v1/jobs/" + task.ID, ""},
		{http.MethodDelete, "/api/v1/ssh-keys/" + keyID, ""},
	}
	apiCall := func(c *client, token string, k call) (*http.Response, string) {
		if k.body != "" {
			return apiJSON(c, k.method, k.path, token, k.body)
		}
		return c.api(k.method, k.path, token)
	}

	// Another member: not found, everywhere, and nothing changes.
	otto := w.otto
	for _, p := range pages {
		resp, _ := otto.get(p)
		wantStatus(t, resp, http.StatusNotFound)
	}
	if resp, _ := dialConsole(t, otto, vm.ID); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("console socket for another member: %v", resp)
	}
	for p, form := range posts {
		resp, _ := otto.submit("/vms", p, form)
		wantStatus(t, resp, http.StatusNotFound)
	}
	for _, k := range apiCalls {
		resp, body := apiCall(otto, w.ottoToken, k)
		wantAPIError(t, resp, body, http.StatusNotFound, "not_found")
	}
	_, body = otto.get("/vms")
	_, tasks := otto.get("/tasks")
	_, keys := otto.get("/ssh-keys")
	_, apiVMs := otto.api(http.MethodGet, "/api/v1/vms", w.ottoToken)
	_, apiKeys := otto.api(http.MethodGet, "/api/v1/ssh-keys", w.ottoToken)
	for _, b := range []string{body, tasks, keys, apiVMs, apiKeys} {
		if strings.Contains(b, "private") || strings.Contains(b, vm.ID) || strings.Contains(b, keyID) {
			t.Errorf("another member sees the VM, its task or the key:\n%s", b)
		}
	}
	if w.state(t, vm.ID) != "stopped" || w.d.count(t, "vms", "shutdown_timeout_seconds = 60") != 1 ||
		w.d.count(t, "ssh_keys", "id = ?", keyID) != 1 || w.d.count(t, "tasks", "") != 1 {
		t.Fatal("another member's requests changed something")
	}

	// An admin sees and acts on every VM.
	admin := w.admin
	for _, p := range []string{vmp, vmp + "/status", tp, tp + "/log"} {
		resp, _ := admin.get(p)
		wantStatus(t, resp, http.StatusOK)
	}
	_, body = admin.get("/vms")
	wantContains(t, body, "private", "mia@example.org")
	_, body = admin.get(vmp)
	wantContains(t, body, "mia@example.org")
	resp, _ = admin.get(vmp + "/console") // not running: back to the VM's page
	wantStatus(t, resp, http.StatusSeeOther)
	if resp, _ := dialConsole(t, admin, vm.ID); resp == nil || resp.StatusCode != http.StatusConflict {
		t.Errorf("console socket of a stopped VM for an admin: %v", resp)
	}
	for _, k := range apiCalls {
		resp, body := apiCall(admin, w.adminToken, k)
		switch {
		case strings.HasPrefix(k.path, "/api/v1/ssh-keys/"):
			wantAPIError(t, resp, body, http.StatusNotFound, "not_found")
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500:
			t.Errorf("admin %s %s: %d %s", k.method, k.path, resp.StatusCode, body)
		}
	}
	if s := w.state(t, vm.ID); s != "starting" {
		t.Errorf("the admin's start left the VM %s", s)
	}
	w.force(t, vm.ID, compute.VMStopped)
	for p, form := range posts {
		resp, body := admin.submit("/vms", p, form)
		switch {
		case strings.HasPrefix(p, "/ssh-keys/"):
			wantStatus(t, resp, http.StatusNotFound)
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500:
			t.Errorf("admin POST %s: %d %s", p, resp.StatusCode, body)
		}
	}

	// The console page of a running VM, with inline styles for xterm.js
	// and nothing inline for scripts.
	w.force(t, vm.ID, compute.VMRunning)
	resp, body = admin.get(vmp + "/console")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `data-ws="/vms/`+vm.ID+`/console/ws"`, `src="`+static.URL("vendor/xterm.js")+`"`, `href="`+static.URL("vendor/xterm.css")+`"`, `src="`+static.URL("console.js")+`"`)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'self' 'unsafe-inline'") || !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("console CSP: %s", csp)
	}

	// Anonymous: the login page, or 401 from the API.
	anon := newClient(t, w.base)
	for _, p := range append(pages, "/vms", "/vms/new", "/vms/table", "/tasks", "/ssh-keys") {
		resp, _ := anon.get(p)
		wantStatus(t, resp, http.StatusSeeOther)
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login?next=") {
			t.Errorf("anonymous %s redirects to %q", p, loc)
		}
	}
	for _, k := range append(apiCalls, call{http.MethodGet, "/api/v1/vms", ""}, call{http.MethodPost, "/api/v1/vms", "{}"},
		call{http.MethodGet, "/api/v1/plans", ""}, call{http.MethodGet, "/api/v1/images", ""}, call{http.MethodGet, "/api/v1/ssh-keys", ""}) {
		resp, body := apiCall(anon, "", k)
		wantAPIError(t, resp, body, http.StatusUnauthorized, "unauthorized")
	}
}
