package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"allmende/e2e/crash"
	"allmende/hypervisor/hvtest"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/web"
)

type series struct {
	T          []int64    `json:"t"`
	CPUPercent []*float64 `json:"cpu_percent"`
	MemoryMB   []*float64 `json:"memory_used_mb"`
	DiskWrite  []*float64 `json:"disk_write_mb_s"`
}

// A running real guest that burns CPU and writes to its disk (/dev/vda,
// dd with O_DIRECT in a loop) shows both in its series, as rates (percent
// of its vCPUs, MB/s) within a few collection periods; after it is powered
// off no new points come; another member sees nothing of it.
func TestVMMetricsFromRealGuest(t *testing.T) {
	const period = 2 * time.Second
	kernel, initrd := hvtest.Guest(t)
	f, _, base := vmFixtureWith(t, func(c *web.Config) { c.MetricsEvery = period })
	ctx := t.Context()
	img, err := f.AddGuestImage(ctx, "guest", kernel, initrd, hvtest.GuestCmdline)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, base)
	wantStatus(t, c.login(f.Member.Email, crash.Password), http.StatusSeeOther)
	resp, body := c.submit("/vms/new", "/vms", url.Values{"name": {"burner"}, "plan_id": {f.Small.ID}, "image_id": {img.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: status %d\n%s", resp.StatusCode, body)
	}
	vmID := strings.TrimPrefix(resp.Header.Get("Location"), "/vms/")
	waitState(t, c, vmID, "running")

	wsCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(wsCtx, "ws"+strings.TrimPrefix(base, "http")+"/vms/"+vmID+"/console/ws",
		&websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	out := &consoleReader{ws: ws}
	if err := out.waitFor(wsCtx, hvtest.GuestMarker); err != nil {
		t.Fatalf("no guest: %v", err)
	}
	// Idle first: the guest waits on its console. The point must cover a
	// period after the boot, which keeps TCG busy.
	upAt := time.Now()
	var idle float64
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := metricsOf(t, c, vmID)
		if n := len(got.T); n >= 2 && got.T[n-2] >= upAt.Unix() && got.CPUPercent[n-1] != nil {
			idle = *got.CPUPercent[n-1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no points for a running guest: %+v", got)
		}
		time.Sleep(500 * time.Millisecond)
	}
	writer := "while :; do dd if=/dev/zero of=/dev/vda bs=64k count=16 oflag=direct 2>/dev/null; done &\r"
	for _, line := range []string{"sh\r", "while :; do :; done &\r", writer} {
		if err := ws.Write(wsCtx, websocket.MessageBinary, []byte(line)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	burnFrom := time.Now()

	// The member's graph data: CPU near one full vCPU (TCG shares the
	// machine's CPUs with other tests, so only "clearly busy" is asked).
	var got series
	deadline = time.Now().Add(90 * time.Second)
	for {
		got = metricsOf(t, c, vmID)
		if n := len(got.T); n > 0 && got.T[n-1] > burnFrom.Unix() && got.CPUPercent[n-1] != nil && *got.CPUPercent[n-1] > idle+15 &&
			got.DiskWrite[n-1] != nil && *got.DiskWrite[n-1] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no busy CPU (idle %.1f %%) and disk writes in the series after %s: t=%v cpu=%v disk write=%v", idle,
				time.Since(burnFrom), got.T, vals(got.CPUPercent), vals(got.DiskWrite))
		}
		time.Sleep(500 * time.Millisecond)
	}
	n := len(got.T)
	t.Logf("CPU idle %.1f %%, busy %.1f %%, disk writes %.2f MB/s after %s (collection every %s)",
		idle, *got.CPUPercent[n-1], *got.DiskWrite[n-1], time.Since(burnFrom).Round(time.Second), period)
	// A TCG guest writing 1 MiB at a time cannot reach 10 GB/s: more would
	// be a counter read as a rate.
	if w := *got.DiskWrite[n-1]; w > 10000 {
		t.Errorf("disk writes %v MB/s: not a rate", w)
	}
	// The vCPU's time over the collector's clock: a loaded machine delays
	// a reading by some hundred milliseconds of the 2 s period, so a busy
	// vCPU can show a little over 100 %; a counter read as a rate shows
	// thousands.
	if cpu := *got.CPUPercent[n-1]; cpu > 150 {
		t.Errorf("CPU %v %% of one vCPU: not a rate", cpu)
	}
	if m := got.MemoryMB[n-1]; m == nil || *m <= 0 || *m > 1024 {
		t.Errorf("memory %v MB for a 128 MiB guest", vals(got.MemoryMB))
	}

	// Another member: 404, on the page route and the API alike.
	accounts := account.NewAccounts(f.DB)
	if _, err := accounts.Register(ctx, models.SystemActor("test"), account.RegisterInput{Email: "other@example.org", Name: "Other",
		Password: crash.Password, Roles: []account.Role{account.RoleMember}}); err != nil {
		t.Fatal(err)
	}
	other := newClient(t, base)
	wantStatus(t, other.login("other@example.org", crash.Password), http.StatusSeeOther)
	resp, _ = other.get("/vms/" + vmID + "/metrics?range=1h")
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = c.api(http.MethodGet, "/api/v1/vms/"+vmID+"/metrics", f.MemberToken)
	wantStatus(t, resp, http.StatusOK)

	// Powered off: no new points.
	runTask(t, f, "power off", func() (*compute.Task, error) { return f.VMs.PowerOff(ctx, f.Member, f.MemberViewer, vmID) })
	off := time.Now()
	time.Sleep(4 * period)
	got = metricsOf(t, c, vmID)
	for i, at := range got.T {
		if at > off.Unix()+1 && got.CPUPercent[i] != nil {
			t.Errorf("a point at %d, %ds after the power-off: %v", at, at-off.Unix(), *got.CPUPercent[i])
		}
	}
}

func metricsOf(t *testing.T, c *client, vmID string) series {
	t.Helper()
	resp, body := c.get("/vms/" + vmID + "/metrics?range=1h")
	wantStatus(t, resp, http.StatusOK)
	var s series
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return s
}

func vals(p []*float64) []float64 {
	out := make([]float64, 0, len(p))
	for _, v := range p {
		if v == nil {
			out = append(out, -1)
		} else {
			out = append(out, *v)
		}
	}
	return out
}

// waitState follows the VM page's status partial until the VM is in state.
func waitState(t *testing.T, c *client, vmID, state string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, body := c.get("/vms/" + vmID + "/status")
		if strings.Contains(body, `data-state="`+state+`"`) {
			return
		}
		if strings.Contains(body, `data-state="error"`) || time.Now().After(deadline) {
			t.Fatalf("VM not %s:\n%s", state, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
