package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"allmende/e2e/crash"
	"allmende/hypervisor/hvtest"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/web"
)

// The first-run path on a real host: an admin presses the one button on
// the getting-started page, the starter.build job builds the busybox guest
// and imports it, and a member makes a VM of the starter plan from the
// starter image, which boots and greets on its serial console. A second
// press makes nothing new; a member may not press it at all.
func TestStarterSetupToRunningGuest(t *testing.T) {
	// The tests' guest cache is the starter cache too: its kernel is
	// downloaded once per machine, not once per test.
	hvtest.GuestFiles(t)
	cache, err := hvtest.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	f, _, base := vmFixtureWith(t, func(c *web.Config) { c.StarterCache = cache })
	ctx := t.Context()

	member := newClient(t, base)
	wantStatus(t, member.login(f.Member.Email, crash.Password), http.StatusSeeOther)
	resp, _ := member.submit("/", "/admin/setup", url.Values{"host_id": {f.Host.ID}})
	wantStatus(t, resp, http.StatusForbidden)

	admin := newClient(t, base)
	wantStatus(t, admin.login("admin@fixture.example", crash.Password), http.StatusSeeOther)
	_, page := admin.get("/admin/setup")
	if !strings.Contains(page, "Create starter plan and image") || !strings.Contains(page, `name="host_id" value="`+f.Host.ID+`"`) {
		t.Fatalf("setup page lacks the button or the preselected host:\n%s", page)
	}
	resp, body := admin.submit("/admin/setup", "/admin/setup", url.Values{"host_id": {f.Host.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: status %d\n%s", resp.StatusCode, body)
	}

	// Followed as the page does: its status partial.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, body = admin.get("/admin/setup/status")
		if strings.Contains(body, "starter-ready") {
			break
		}
		if strings.Contains(body, `data-status="failed"`) || time.Now().After(deadline) {
			t.Fatalf("starter images not ready:\n%s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(body, `href="/vms/new"`) {
		t.Errorf("no link to the first VM:\n%s", body)
	}

	resp, _ = admin.submit("/admin/setup", "/admin/setup", url.Values{"host_id": {f.Host.ID}})
	wantStatus(t, resp, http.StatusSeeOther)
	plan, disk := starterRows(t, f)

	resp, body = member.submit("/vms/new", "/vms", url.Values{"name": {"first"}, "plan_id": {plan.ID}, "image_id": {disk.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create VM: status %d\n%s", resp.StatusCode, body)
	}
	vmID := strings.TrimPrefix(resp.Header.Get("Location"), "/vms/")
	deadline = time.Now().Add(90 * time.Second)
	for {
		_, body = member.get("/vms/" + vmID + "/status")
		if strings.Contains(body, `data-state="running"`) {
			break
		}
		if strings.Contains(body, `data-state="error"`) || time.Now().After(deadline) {
			vm, _ := f.VMs.Get(ctx, f.AdminViewer, vmID)
			t.Fatalf("VM not running: %+v\n%s", vm, body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	wsCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(wsCtx, "ws"+strings.TrimPrefix(base, "http")+"/vms/"+vmID+"/console/ws",
		&websocket.DialOptions{HTTPClient: member.http})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	out := &consoleReader{ws: ws}
	if err := out.waitFor(wsCtx, hvtest.GuestMarker+" "); err != nil {
		t.Fatalf("no %s on the console: %v; got %q", hvtest.GuestMarker, err, out.buf.String())
	}
	if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}

// starterRows checks that there is one starter plan and one of each
// starter image, all ready, and returns the plan and the disk.
func starterRows(t *testing.T, f *crash.Fixture) (*compute.Plan, *compute.Image) {
	t.Helper()
	ctx := context.Background()
	plans, err := f.Plans.List(ctx, f.AdminViewer)
	if err != nil {
		t.Fatal(err)
	}
	var plan *compute.Plan
	for i := range plans {
		if plans[i].Name == compute.StarterPlanName {
			if plan != nil {
				t.Errorf("two starter plans")
			}
			plan = &plans[i]
		}
	}
	if plan == nil || plan.VCPUs != 1 || plan.MemoryMiB != 128 || plan.DiskGiB != 1 {
		t.Fatalf("starter plan %+v", plan)
	}
	images, err := f.Images.List(ctx, f.AdminViewer)
	if err != nil {
		t.Fatal(err)
	}
	var disk *compute.Image
	n := 0
	for i, img := range images {
		if !strings.HasPrefix(img.Name, compute.StarterImageName) {
			continue
		}
		n++
		if img.Status != compute.ImageReady {
			t.Errorf("starter image %s: %s (%s)", img.Name, img.Status, img.Error)
		}
		if img.Kind == compute.ImageDisk {
			disk = &images[i]
		}
	}
	if n != 3 || disk == nil {
		t.Fatalf("%d starter images (disk %v), want 3", n, disk)
	}
	if disk.KernelVolume == "" || disk.InitrdVolume == "" || disk.KernelCmdline != hvtest.GuestCmdline {
		t.Errorf("starter disk boots %q %q %q", disk.KernelVolume, disk.InitrdVolume, disk.KernelCmdline)
	}
	return plan, disk
}

// A fresh install without plans or images points the admin to the
// getting-started page; without a host its button cannot be pressed.
func TestGettingStartedHint(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	c := newClient(t, base)
	wantStatus(t, c.login("admin@example.org", "correct horse battery"), http.StatusSeeOther)
	_, body := c.get("/")
	if !strings.Contains(body, `id="getting-started"`) || !strings.Contains(body, `href="/admin/setup"`) {
		t.Fatalf("dashboard lacks the getting-started hint:\n%s", body)
	}
	_, body = c.get("/admin/setup")
	if !strings.Contains(body, "none yet") || !strings.Contains(body, "disabled") {
		t.Errorf("setup page without a host:\n%s", body)
	}
	resp, body := c.submit("/admin/setup", "/admin/setup", url.Values{"host_id": {"nope"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Choose a host.") {
		t.Errorf("setup without a host: status %d\n%s", resp.StatusCode, body)
	}
}
