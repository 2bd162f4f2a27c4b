package e2e

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"allmende/e2e/crash"
	"allmende/hypervisor/hvtest"
	"allmende/models/compute"
	"allmende/web"
)

// A member opens their running VM's page: the graphs (uPlot) draw from
// the metrics the collection job takes every second here, with range
// buttons; then /commons with its capacity, numbers and host graphs; both
// again at phone width (390 px) without sideways scrolling. No CSP
// violations or script errors (checked by the tab).
func TestCommonsAndGraphsInBrowser(t *testing.T) {
	for _, bin := range []string{chromiumPath, "virsh", "qemu-img"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (%v); run: go tool task setup", bin, err)
		}
	}
	kernel, initrd := hvtest.Guest(t)
	p := startVMPortalWith(t, func(c *web.Config) { c.MetricsEvery = time.Second })
	ctx := t.Context()
	f, err := crash.Setup(ctx, filepath.Join(p.dataDir, "allmende.db"), p.dataDir, quietLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	img, err := f.AddGuestImage(ctx, "busybox", kernel, initrd, hvtest.GuestCmdline)
	if err != nil {
		t.Fatal(err)
	}
	vm, task, err := f.VMs.Create(ctx, f.Member, f.MemberViewer, compute.VMInput{Name: "graphed", PlanID: f.Small.ID, ImageID: img.ID})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := f.WaitTask(ctx, task.ID, 90*time.Second); err != nil || done.Status != compute.TaskSucceeded {
		t.Fatalf("create: %+v %v", done, err)
	}

	b := startBrowser(t)
	tab := b.newTabWithin(t, p.url, vmTabTimeout)
	tab.logIn(f.Member.Email, crash.Password)
	tab.open("/vms/" + vm.ID)
	graphs := `#vm-graphs`
	// Points arrive within a few collections; the page polls every 15 s on
	// "1h", so a range click fetches at once.
	pointsJS := `+(document.querySelector("#vm-graphs")?.getAttribute("data-points") ?? "0")`
	deadline := time.Now().Add(60 * time.Second)
	for run(t, tab.ctx, chromedp.Evaluate[int](pointsJS)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no points in the graphs: %s", tab.html(graphs))
		}
		time.Sleep(2 * time.Second)
		run(t, tab.ctx, chromedp.Click(chromedp.CSS(graphs+` button[data-range="1h"]`)))
	}
	if n := run(t, tab.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#vm-graphs .uplot canvas").length`)); n != 4 {
		t.Errorf("%d charts drawn, want 4 (CPU, memory, disk, network)", n)
	}
	if c := run(t, tab.ctx, chromedp.Evaluate[string](`document.querySelector("#vm-graphs figure figcaption").textContent`)); !strings.HasPrefix(c, "CPU (%) — now ") {
		t.Errorf("CPU caption %q, want the current value in %%", c)
	}
	run(t, tab.ctx, chromedp.Click(chromedp.CSS(graphs+` button[data-range="24h"]`)))
	if _, err := chromedp.Run(tab.ctx, chromedp.Poll[bool](`document.querySelector("#vm-graphs").getAttribute("data-range") === "24h" &&
		document.querySelector('#vm-graphs button[data-range="24h"]').getAttribute("aria-pressed") === "true"`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the 24h range was not taken: %v", err)
	}
	tab.screenshot("vm-graphs.png")

	tab.submit(`nav a[href="/commons"]`, http.StatusOK)
	tab.wantPath("/commons")
	tab.wantText("#coop-members", "1")
	if n := run(t, tab.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".host-capacity").length`)); n != 2 {
		t.Errorf("%d capacity blocks, want the host and the total", n)
	}
	tab.wantText(`tr[data-plan="small"] td:nth-child(3)`, "1")
	if _, err := chromedp.Run(tab.ctx, chromedp.Poll[bool](`document.querySelectorAll("[data-graphs=host] .uplot").length >= 3`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Errorf("no host graphs on /commons: %v", err)
	}
	tab.screenshot("commons.png")

	// Phone width: nothing wider than the screen, on both pages.
	run(t, tab.ctx, chromedp.EmulateViewport(390, 844))
	for _, path := range []string{"/commons", "/vms/" + vm.ID} {
		tab.open(path)
		time.Sleep(time.Second) // the graphs draw after their first fetch
		w := run(t, tab.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if w > 390 {
			t.Errorf("%s at 390 px is %d px wide: sideways scrolling", path, w)
		}
		tab.screenshot("phone" + strconv.Itoa(len(path)) + ".png")
	}
}
