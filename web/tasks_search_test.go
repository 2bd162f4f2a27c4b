package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"allmende/models/account"
	"allmende/models/compute"
)

// The task history is searched (VM name or who started it, status, kind)
// and paged, on /tasks and in the API; a member finds only their own
// tasks, and an unknown status or kind is a 400.
func TestTasksSearchAndPages(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "alice@example.org", account.RoleMember)
	createUser(t, srv, "bob@example.org", account.RoleMember)
	db := srv.DB()
	ids := map[string]string{}
	for _, email := range []string{"alice@example.org", "bob@example.org"} {
		var id string
		if err := db.Gorm.Table("users").Where("email = ?", email).Pluck("id", &id).Error; err != nil {
			t.Fatal(err)
		}
		ids[email] = id
	}
	now := time.Now().UTC()
	rows := []any{
		&compute.Host{ID: "h1", Name: "node-a", URI: "test:///default", Role: compute.HostRoleCompute, CreatedAt: now, UpdatedAt: now},
		&compute.Plan{ID: "p1", Name: "small", VCPUs: 1, MemoryMiB: 1024, DiskGiB: 10, CreatedAt: now, UpdatedAt: now},
		&compute.Image{ID: "i1", Name: "img", HostID: "h1", Pool: "default", Volume: "img", Format: "raw", Status: "ready", CreatedAt: now, UpdatedAt: now},
	}
	vms := map[string]string{"web": ids["alice@example.org"], "db": ids["alice@example.org"], "bobs": ids["bob@example.org"]}
	n := 0
	for name, owner := range vms {
		n++
		rows = append(rows, &compute.VM{ID: "vm-" + name, OwnerID: owner, Name: name, State: compute.VMRunning, PlanID: "p1", ImageID: "i1",
			HostID: "h1", MAC: fmt.Sprintf("52:54:00:00:00:%02x", n), ShutdownTimeoutSeconds: 60, CreatedAt: now, UpdatedAt: now})
	}
	// Alice: 60 tasks, alternating VM, kind and status; Bob: 5.
	for i := range 60 {
		vm, kind, status := "vm-web", compute.ActionStart, compute.TaskSucceeded
		if i%2 == 1 {
			vm, kind = "vm-db", compute.ActionReboot
		}
		if i%3 == 0 {
			status = compute.TaskFailed
		}
		rows = append(rows, &compute.Task{ID: uuid.Must(uuid.NewV7()).String(), VMID: vm, OwnerID: ids["alice@example.org"], Kind: kind,
			Status: status, StartedBy: "alice@example.org", CreatedAt: now})
	}
	for range 5 {
		rows = append(rows, &compute.Task{ID: uuid.Must(uuid.NewV7()).String(), VMID: "vm-bobs", OwnerID: ids["bob@example.org"],
			Kind: compute.ActionStart, Status: compute.TaskSucceeded, StartedBy: "bob@example.org", CreatedAt: now})
	}
	for _, row := range rows {
		if err := db.Gorm.Create(row).Error; err != nil {
			t.Fatal(err)
		}
	}

	alice := newClient(t, base)
	wantStatus(t, alice.login("alice@example.org", "correct horse battery"), http.StatusSeeOther)
	taskLinks := regexp.MustCompile(`href="/tasks/[0-9a-f-]{36}"`)
	resp, body := alice.get("/tasks")
	wantStatus(t, resp, http.StatusOK)
	if got := len(taskLinks.FindAllString(body, -1)); got != 50 {
		t.Errorf("first page: %d tasks, want 50", got)
	}
	older := regexp.MustCompile(`href="(/tasks\?[^"]+)"`).FindStringSubmatch(body)
	if older == nil {
		t.Fatal("no link to older tasks")
	}
	resp, body = alice.get(strings.ReplaceAll(older[1], "&amp;", "&"))
	wantStatus(t, resp, http.StatusOK)
	if got := len(taskLinks.FindAllString(body, -1)); got != 10 {
		t.Errorf("second page: %d tasks, want 10", got)
	}

	// Search: the db VM's failed reboots (i odd and divisible by 3: 10).
	_, body = alice.get("/tasks?" + url.Values{"q": {"DB"}, "status": {"failed"}, "kind": {"reboot"}}.Encode())
	if got := len(taskLinks.FindAllString(body, -1)); got != 10 {
		t.Errorf("search: %d tasks, want 10", got)
	}
	wantContains(t, body, `value="DB"`, `<option value="failed" selected>`)
	if strings.Contains(body, `href="/vms/vm-web"`) {
		t.Error("the search shows the web VM's tasks")
	}
	_, body = alice.get("/tasks?q=bobs")
	wantContains(t, body, "No tasks match the search.")
	resp, _ = alice.get("/tasks?status=lost")
	wantStatus(t, resp, http.StatusBadRequest)

	// The API: the same search, pages by next_before.
	aliceToken, bobToken := tokenFor(t, openDomain(t, cfg), "alice@example.org"), tokenFor(t, openDomain(t, cfg), "bob@example.org")
	type page struct {
		Tasks []struct {
			ID   string `json:"id"`
			VMID string `json:"vm_id"`
		} `json:"tasks"`
		NextBefore *string `json:"next_before"`
	}
	seen := map[string]bool{}
	path, pages := "/api/v1/tasks?limit=25&q=web", 0
	for {
		resp, body := alice.api(http.MethodGet, path, aliceToken)
		wantStatus(t, resp, http.StatusOK)
		var p page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		pages++
		for _, task := range p.Tasks {
			if task.VMID != "vm-web" || seen[task.ID] {
				t.Errorf("task %+v: another VM's, or twice", task)
			}
			seen[task.ID] = true
		}
		if p.NextBefore == nil {
			break
		}
		path = "/api/v1/tasks?limit=25&q=web&before=" + *p.NextBefore
	}
	if len(seen) != 30 || pages != 2 {
		t.Errorf("the web VM's tasks: %d over %d pages, want 30 over 2", len(seen), pages)
	}
	_, body = alice.api(http.MethodGet, "/api/v1/tasks?q=bobs", bobToken)
	var bobs page
	decodeInto(t, body, &bobs)
	if len(bobs.Tasks) != 5 {
		t.Errorf("Bob's tasks: %s", body)
	}
	_, body = alice.api(http.MethodGet, "/api/v1/tasks?q=bob", aliceToken)
	decodeInto(t, body, &bobs)
	if len(bobs.Tasks) != 0 {
		t.Errorf("Alice finds Bob's tasks: %s", body)
	}
	for _, bad := range []string{"?status=AAA", "?kind=dance", "?limit=0", "?limit=many", "?q=" + strings.Repeat("x", 101)} {
		resp, body := alice.api(http.MethodGet, "/api/v1/tasks"+bad, aliceToken)
		wantStatus(t, resp, http.StatusBadRequest)
		decodeAPIError(t, body)
	}
	resp, _ = alice.api(http.MethodGet, "/api/v1/tasks", "")
	wantStatus(t, resp, http.StatusUnauthorized)
}
