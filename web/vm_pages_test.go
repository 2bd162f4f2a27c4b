package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/compute"
)

// vmPagesWorld is vmWorld with a network on the host (so VMs get an
// address), an SSH key of Mia's and her VM "web-1" running.
func vmPagesWorld(t *testing.T) (*vmWorld, vmJSON, taskJSON) {
	t.Helper()
	w := newVMWorld(t)
	ctx := context.Background()
	u, err := w.d.accounts.ByEmail(ctx, "admin@example.org")
	if err != nil {
		t.Fatal(err)
	}
	admin, av := models.Actor{UserID: u.ID, Email: u.Email}, models.Viewer{UserID: u.ID, Admin: true}
	if _, err := compute.NewNetworks(w.d.db).Create(ctx, admin, av, compute.NetworkInput{HostID: w.image.HostID, Name: "lan",
		LibvirtNetwork: "default", CIDR: "10.9.0.0/24", Gateway: "10.9.0.1", DNS: []string{"10.9.0.1"}}); err != nil {
		t.Fatal(err)
	}
	vm, task := w.createVM(t, w.miaToken, "web-1")
	w.force(t, vm.ID, compute.VMRunning)
	return w, vm, task
}

// The data vmWorld makes, which reads the same in every language.
var vmPagesData = []string{"web-1", "web-2", "small", "big", "debian-13", "node-a", "lan", "ssh debian@10.9.0.2", "10.9.0.2",
	"small — 1 vCPU, 1 GiB Arbeitsspeicher, 10 GiB Festplatte", "10 GiB", "40 GiB", "4 GiB", "1 GiB", "vCPUs", "Host"}

// TestVMPagesInBothLanguages: the VM list, the create form, a VM's page,
// its console and its task read differently in German and English in
// every visible text, for the member and for an admin.
func TestVMPagesInBothLanguages(t *testing.T) {
	w, vm, task := vmPagesWorld(t)
	provisioning, _ := w.createVM(t, w.miaToken, "web-2")
	same := append(append([]string{}, vmPagesData...), "web-1 · Allmende", "web-2 · Allmende", "← web-1")
	for _, p := range []string{"/vms", "/vms?q=web", "/vms?q=nothing-like-this", "/vms?page=2", "/vms/new", "/vms/" + vm.ID,
		"/vms/" + provisioning.ID, "/vms/" + vm.ID + "/console", "/tasks/" + task.ID} {
		checkBothLanguages(t, w.mia, w.base, p, same...)
	}
	for _, p := range []string{"/vms", "/vms/" + vm.ID} {
		checkBothLanguages(t, w.admin, w.base, p, same...)
	}
	// German really is German, with the German number and date formats.
	req, _ := http.NewRequest(http.MethodGet, w.base+"/vms/"+vm.ID, nil)
	req.Header.Set("Accept-Language", "de")
	_, body := w.mia.do(req)
	wantContains(t, body, "Gefahrenbereich", "Mit SSH anmelden", ">läuft<", "erzwungenes Ausschalten nach 60 s")
}

// TestVMPageDesign: a running VM's page has its power buttons in one bar,
// the SSH command with a copy button, the settings in sections and
// provisioning again and deleting in the danger zone; a VM at work shows
// its task apart from the badge, and a queued task does not read as
// "finished: never".
func TestVMPageDesign(t *testing.T) {
	w, vm, _ := vmPagesWorld(t)
	_, body := w.mia.get("/vms/" + vm.ID)
	bar := between(t, body, `<div class="action-bar vm-buttons"`, `</div>`)
	wantContains(t, bar, `/shutdown"`, `/reboot"`, `/poweroff"`, `/console"`)
	if strings.Contains(bar, "/delete") || strings.Contains(bar, "/reprovision") {
		t.Error("a destructive action sits in the power bar")
	}
	wantContains(t, body, `id="vm-ssh"`, `value="ssh debian@10.9.0.2"`, `data-copy="vm-ssh"`, `type="button"`,
		`class="vm-settings"`, `class="vm-resize"`, `class="vm-timeout"`)
	danger := between(t, body, `<section class="danger-zone"`, `</section>`)
	wantContains(t, danger, `/delete"`, `class="danger"`, `id="f-confirm"`)
	if strings.Contains(body, `hx-trigger="every 2s"`) {
		t.Error("a settled VM's page polls")
	}

	// Failed, it can be provisioned again, after a question.
	w.force(t, vm.ID, compute.VMError)
	_, body = w.mia.get("/vms/" + vm.ID)
	danger = between(t, body, `<section class="danger-zone"`, `</section>`)
	wantContains(t, danger, `/reprovision"`, `data-confirm="Provision web-1 again from its image?"`)

	// Start it again: the page polls and shows the task beside the badge.
	w.force(t, vm.ID, compute.VMStopped)
	resp, _ := w.mia.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/start", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = w.mia.get("/vms/" + vm.ID)
	head := between(t, body, `<div class="vm-head">`, `</a>`)
	wantContains(t, head, `data-state="starting"`, `class="vm-task"`, "Task start: queued")
	wantContains(t, body, "The virtual machine is starting.", "not started yet")
	if strings.Contains(between(t, body, `<table class="tasks">`, `</table>`), ">never<") {
		t.Error("an unfinished task reads as finished never")
	}
	// The poll that finds the VM settled drops the action's flash.
	_, part := w.mia.get("/vms/" + vm.ID + "/status")
	if strings.Contains(part, "hx-swap-oob") {
		t.Error("the flash goes while the task still works")
	}
	w.force(t, vm.ID, compute.VMRunning)
	_, part = w.mia.get("/vms/" + vm.ID + "/status")
	wantContains(t, part, `hx-swap-oob="delete:main > .flash.success"`)
	_, body = w.mia.get("/vms/" + vm.ID)
	if strings.Contains(body, "hx-swap-oob") {
		t.Error("a full page deletes its own flashes")
	}
}

// TestVMConsoleControls: the console page has the power buttons (which
// come back to the console, and only there), full screen, Ctrl-Alt-Del
// and the paste help; Ctrl-Alt-Del is refused for a stopped VM, a 404 for
// another member's, and a message, not a 500, when the host cannot be
// reached.
func TestVMConsoleControls(t *testing.T) {
	w, vm, _ := vmPagesWorld(t)
	console := "/vms/" + vm.ID + "/console"
	_, body := w.mia.get(console)
	wantContains(t, body, `id="console-fullscreen"`, `action="`+console+`/ctrl-alt-del"`, `class="console-help"`,
		`name="next" value="`+console+`"`, `/reboot"`, `/poweroff"`)

	resp, _ := w.mia.submit(console, console+"/ctrl-alt-del", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != console {
		t.Errorf("Ctrl-Alt-Del returns to %q", loc)
	}
	_, body = w.mia.get(console)
	wantContains(t, body, "Ctrl-Alt-Del could not be sent; please try again.") // no libvirt in this world

	resp, _ = w.otto.submit("/vms", console+"/ctrl-alt-del", url.Values{})
	wantStatus(t, resp, http.StatusNotFound)

	resp, _ = w.mia.submit(console, "/vms/"+vm.ID+"/reboot", url.Values{"next": {console}})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != console {
		t.Errorf("reboot from the console returns to %q", loc)
	}
	w.force(t, vm.ID, compute.VMRunning)
	resp, _ = w.mia.submit(console, "/vms/"+vm.ID+"/reboot", url.Values{"next": {"https://evil.example/"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/vms/"+vm.ID {
		t.Errorf("reboot with a foreign next goes to %q", loc)
	}

	w.force(t, vm.ID, compute.VMStopped)
	resp, _ = w.mia.submit("/vms/"+vm.ID, console+"/ctrl-alt-del", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = w.mia.get("/vms/" + vm.ID)
	wantContains(t, body, "The console is available while the VM is running.")
}

// TestVMListSearchAndPagesWeb: the list's search field keeps its text,
// the polled table keeps the search, bad pages are a 400, and the API
// answers the same search with its page.
func TestVMListSearchAndPagesWeb(t *testing.T) {
	w, vm, _ := vmPagesWorld(t)
	w.createVM(t, w.miaToken, "db-1") // provisioning: the table polls
	_, body := w.mia.get("/vms?q=DB")
	wantContains(t, body, `role="search"`, `name="q" type="search" value="DB"`, `data-vm="db-1"`, `hx-get="/vms/table?q=DB"`,
		`href="/vms">Show all virtual machines`)
	if strings.Contains(body, `data-vm="web-1"`) {
		t.Error("the search shows a VM it does not match")
	}
	_, body = w.mia.get("/vms?q=10.9.0.2")
	wantContains(t, body, `data-vm="web-1"`)
	_, body = w.mia.get("/vms?q=%25")
	wantContains(t, body, "No virtual machine matches “%”.")
	_, body = w.mia.get("/vms?page=2&q=web")
	wantContains(t, body, "This page is empty.", `href="/vms?q=web" rel="prev"`)
	_, body = w.otto.get("/vms?q=web")
	wantContains(t, body, "No virtual machine matches")
	for _, bad := range []string{"/vms?page=0", "/vms?page=x", "/vms?q=" + strings.Repeat("a", 101)} {
		resp, _ := w.mia.get(bad)
		wantStatus(t, resp, http.StatusBadRequest)
	}

	resp, body := w.mia.api(http.MethodGet, "/api/v1/vms?q=WEB-1", w.miaToken)
	wantStatus(t, resp, http.StatusOK)
	got := decode[struct {
		VMs      []vmJSON `json:"vms"`
		Page     int      `json:"page"`
		NextPage *int     `json:"next_page"`
	}](t, body)
	if len(got.VMs) != 1 || got.VMs[0].ID != vm.ID || got.Page != 1 || got.NextPage != nil {
		t.Errorf("search web-1: %s", body)
	}
	resp, body = w.mia.api(http.MethodGet, "/api/v1/vms?page=0", w.miaToken)
	wantAPIError(t, resp, body, http.StatusBadRequest, "bad_request")
}

// between is the part of body from the first start to the next end.
func between(t *testing.T, body, start, end string) string {
	t.Helper()
	i := strings.Index(body, start)
	if i < 0 {
		t.Fatalf("no %q in the page", start)
	}
	j := strings.Index(body[i:], end)
	if j < 0 {
		return body[i:]
	}
	return body[i : i+j+len(end)]
}
