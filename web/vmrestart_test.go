package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"allmende/e2e/crash"
	"allmende/models"
	"allmende/models/compute"
	"allmende/web"
)

// killQEMU kills the domain's QEMU process behind the portal's back, as a
// host crash would, and waits for libvirt to see the domain shut off.
func killQEMU(t *testing.T, uri, dom string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err == nil && bytes.Contains(cmd, []byte("guest="+dom+",")) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	if len(pids) != 1 {
		t.Fatalf("QEMU processes of %s: %v, want one", dom, pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "libvirt to see "+dom+" shut off", func() bool {
		out, _ := crash.Virsh(uri, "domstate", dom)
		return strings.HasPrefix(strings.TrimSpace(out), "shut off")
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reconcileUntil asks for reconcile runs until ok holds.
func reconcileUntil(t *testing.T, f *crash.Fixture, what string, ok func(*compute.VMDetail) bool, vmID string) *compute.VMDetail {
	t.Helper()
	ctx := context.Background()
	var d *compute.VMDetail
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := f.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			var err error
			if d, err = f.VMs.Get(ctx, f.AdminViewer, vmID); err != nil {
				t.Fatal(err)
			}
			if ok(d) {
				return d
			}
			time.Sleep(100 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s %q", what, d.State, d.StateReason)
		}
	}
}

// wantAutoRestart kills the VM's QEMU, lets the reconciler run, and checks
// that it started the VM again: the task log says why, and libvirt has the
// domain running.
func wantAutoRestart(t *testing.T, f *crash.Fixture, vmID, dom string, attempt int) {
	t.Helper()
	restarts := func(d *compute.VMDetail) int {
		n := 0
		for _, task := range d.Tasks {
			if task.Kind == compute.ActionRestart {
				n++
			}
		}
		return n
	}
	d := reconcileUntil(t, f, "restart", func(d *compute.VMDetail) bool { return restarts(d) == attempt }, vmID)
	var task *compute.Task
	for i := range d.Tasks {
		if d.Tasks[i].Kind == compute.ActionRestart {
			task = &d.Tasks[i] // newest first
			break
		}
	}
	done, err := f.WaitTask(context.Background(), task.ID, 90*time.Second)
	if err != nil || done.Status != compute.TaskSucceeded {
		t.Fatalf("restart %d: %v %+v", attempt, err, done)
	}
	if log := crash.TaskLog(done); !strings.HasPrefix(log, compute.RestartedLine) || !strings.Contains(log, "starting") {
		t.Errorf("restart %d log: %s", attempt, log)
	}
	wantVM(t, f, vmID, compute.VMRunning)
	wantDomState(t, f.Host.URI, dom, "running")
}

type restartVMJSON struct {
	State               string `json:"state"`
	ObservedState       string `json:"observed_state"`
	StoppedUnexpectedly bool   `json:"stopped_unexpectedly"`
	AutoRestart         bool   `json:"auto_restart"`
	StateReason         string `json:"state_reason"`
}

func getVMJSON(t *testing.T, c *client, token, vmID string) restartVMJSON {
	t.Helper()
	resp, body := c.api(http.MethodGet, "/api/v1/vms/"+vmID, token)
	wantStatus(t, resp, http.StatusOK)
	var out restartVMJSON
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// A VM whose QEMU dies behind the portal's back is started again by the
// reconciler, after a back-off and at most three times an hour; then, and
// when its member turned the setting off, it stays stopped and the page and
// the API say so. Checked in libvirt, not only in the database.
func TestAutoRestartAfterUnexpectedStop(t *testing.T) {
	clock := models.NewManualClock(time.Now())
	f, _, base := vmFixtureWith(t, func(c *web.Config) { c.Clock = clock })
	ctx := context.Background()
	uri := f.Host.URI
	vm, task, err := f.CreateVM(ctx, "crashy", f.Small)
	if err != nil {
		t.Fatal(err)
	}
	if done, err := f.WaitTask(ctx, task.ID, 90*time.Second); err != nil || done.Status != compute.TaskSucceeded {
		t.Fatalf("create: %v %+v", err, done)
	}
	dom := vm.DomainName()
	c := newClient(t, base)
	wantStatus(t, c.login(f.Member.Email, crash.Password), http.StatusSeeOther)
	start := clock.Now()

	killQEMU(t, uri, dom)
	wantAutoRestart(t, f, vm.ID, dom, 1)

	// Killed again at once: the next restart waits a minute, and meanwhile
	// the member sees the VM stopped, not running.
	killQEMU(t, uri, dom)
	reconcileUntil(t, f, "the back-off", func(d *compute.VMDetail) bool { return d.StoppedUnexpectedly() }, vm.ID)
	if j := getVMJSON(t, c, f.MemberToken, vm.ID); j.State != "running" || j.ObservedState != "stopped" || !j.StoppedUnexpectedly ||
		!j.AutoRestart || !strings.Contains(j.StateReason, "restarting at") {
		t.Errorf("API during the back-off: %+v", j)
	}
	_, body := c.get("/vms/" + vm.ID)
	wantContains(t, body, `data-observed="stopped"`, "stopped unexpectedly — restarting at", "(attempt 2 of 3)")
	_, body = c.get("/vms")
	wantContains(t, body, ">stopped unexpectedly</span>")
	wantDomState(t, uri, dom, "shut off")
	clock.Set(start.Add(time.Minute))
	wantAutoRestart(t, f, vm.ID, dom, 2)

	killQEMU(t, uri, dom)
	clock.Set(start.Add(3 * time.Minute))
	wantAutoRestart(t, f, vm.ID, dom, 3)

	// A fourth stop within the hour: the reconciler gives up.
	killQEMU(t, uri, dom)
	clock.Set(start.Add(10 * time.Minute))
	reconcileUntil(t, f, "giving up", func(d *compute.VMDetail) bool { return d.State == compute.VMStopped }, vm.ID)
	_, body = c.get("/vms/" + vm.ID)
	wantContains(t, body, `data-state="stopped"`, ">stopped unexpectedly</span>",
		"stopped unexpectedly — automatic restart gave up after 3 tries in an hour")
	time.Sleep(time.Second)
	wantDomState(t, uri, dom, "shut off")

	// The member starts it and turns automatic restart off on the page:
	// killed again, it stays stopped.
	runTask(t, f, "start", func() (*compute.Task, error) { return f.VMs.Start(ctx, f.Member, f.MemberViewer, vm.ID) })
	resp, _ := c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/auto-restart", url.Values{"auto_restart": {"maybe"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if j := getVMJSON(t, c, f.MemberToken, vm.ID); !j.AutoRestart || j.StoppedUnexpectedly || j.ObservedState != "running" {
		t.Fatalf("after a refused setting and a start: %+v", j)
	}
	resp, _ = c.submit("/vms/"+vm.ID, "/vms/"+vm.ID+"/auto-restart", url.Values{"auto_restart": {"off"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = c.post("/vms/"+vm.ID+"/auto-restart", url.Values{"auto_restart": {"on"}}) // no CSRF token
	if resp.StatusCode < 400 {
		t.Errorf("setting without a CSRF token: status %d", resp.StatusCode)
	}
	_, body = c.get("/vms/" + vm.ID)
	wantContains(t, body, "Turn automatic restart on", "off: stays stopped when it stops unexpectedly")
	clock.Set(start.Add(2 * time.Hour))
	killQEMU(t, uri, dom)
	reconcileUntil(t, f, "leaving it stopped", func(d *compute.VMDetail) bool { return d.State == compute.VMStopped }, vm.ID)
	if j := getVMJSON(t, c, f.MemberToken, vm.ID); j.State != "stopped" || j.ObservedState != "stopped" || !j.StoppedUnexpectedly ||
		j.AutoRestart || j.StateReason != "stopped unexpectedly — automatic restart off" {
		t.Errorf("API with restart off: %+v", j)
	}
	_, body = c.get("/vms/" + vm.ID)
	wantContains(t, body, "stopped unexpectedly — automatic restart off")
	time.Sleep(time.Second)
	wantDomState(t, uri, dom, "shut off")
	if d, _ := f.VMs.Get(ctx, f.AdminViewer, vm.ID); len(d.Tasks) == 0 || d.Tasks[0].Kind != compute.ActionStart {
		t.Errorf("a task after the stop with restart off: %+v", d.Tasks[0])
	}
}

// The setting through the API: PATCH, like the other settings.
func TestAutoRestartSettingAPI(t *testing.T) {
	w := newVMWorld(t)
	vm, _ := w.createVM(t, w.miaToken, "api-restart")
	resp, body := apiJSON(w.mia, http.MethodPatch, "/api/v1/vms/"+vm.ID, w.miaToken, `{"auto_restart":false}`)
	wantStatus(t, resp, http.StatusOK)
	if !strings.Contains(body, `"auto_restart":false`) || !strings.Contains(body, `"observed_state":`) {
		t.Errorf("PATCH auto_restart: %s", body)
	}
	resp, _ = apiJSON(w.mia, http.MethodPatch, "/api/v1/vms/"+vm.ID, w.ottoToken, `{"auto_restart":true}`)
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = apiJSON(w.mia, http.MethodPatch, "/api/v1/vms/"+vm.ID, w.miaToken, `{"auto_restart":"yes"}`)
	wantStatus(t, resp, http.StatusBadRequest)
}
