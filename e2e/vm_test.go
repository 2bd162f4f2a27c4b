package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"allmende/e2e/crash"
	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
	"allmende/models/compute"
	"allmende/web"
)

// vmTabTimeout bounds the VM scenario's browser work: a guest boots under
// TCG, on a machine that runs other tests' guests too.
const vmTabTimeout = 80 * time.Second

// TestVMInBrowser is a member's VM from start to end in Chromium, against
// a portal with its own libvirtd: create it, watch it become running
// without reloading, talk to the guest on the console, delete it, and
// find nothing of it left in libvirt.
func TestVMInBrowser(t *testing.T) {
	for _, bin := range []string{chromiumPath, "virsh", "qemu-img"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (%v); run: go tool task setup", bin, err)
		}
	}
	kernel, initrd := hvtest.Guest(t)
	p := startVMPortal(t)
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
	b := startBrowser(t)
	// A minute more for the phone's checks, which run meanwhile.
	tab := b.newTabWithin(t, p.url, vmTabTimeout+time.Minute)
	const name = "browser-vm"

	tab.logIn(f.Member.Email, crash.Password)
	tab.submit(`nav a[href="/vms"]`, http.StatusOK)
	tab.wantPath("/vms")
	tab.submit(`main a[href="/vms/new"]`, http.StatusOK)
	tab.fill("#f-name", name)
	run(t, tab.ctx, chromedp.SetValue(chromedp.CSS("#f-plan_id"), f.Small.ID))
	run(t, tab.ctx, chromedp.SetValue(chromedp.CSS("#f-image_id"), img.ID))
	tab.submit(`form[action="/vms"] button[type=submit]`, http.StatusOK)
	tab.wantText("main .flash.success", name+" is being created.")
	vm := vmOnPage(t, tab)
	if got, err := f.VMs.Get(ctx, f.MemberViewer, vm.ID); err != nil || got.Name != name {
		t.Fatalf("VM %s of the page: %+v, %v", vm.ID, got, err)
	}

	// The job takes seconds (River's fetch interval, QEMU's start), so the
	// page normally comes up while the VM is still provisioning, and htmx
	// swaps the badge when the job is done. A much faster machine may
	// already be done; that is no failure.
	badge := `#vm-status .vm-state`
	switch s := run(t, tab.ctx, chromedp.AttributeValue(chromedp.CSS(badge), "data-state")).Value; s {
	case string(compute.VMProvisioning):
	case string(compute.VMRunning):
		t.Logf("the VM was running before its page loaded; the live update was not exercised")
	default:
		t.Errorf("the new VM's page shows state %q, want provisioning", s)
	}
	run(t, tab.ctx, chromedp.Evaluate[chromedp.Void](`window.e2eNotReloaded = true`))
	if err := chromedp.Do(tab.ctx, chromedp.WaitVisible(chromedp.CSS(badge+`[data-state="running"]`))); err != nil {
		t.Fatalf("the VM did not become running: %v\n%s", err, tab.html("#vm-status"))
	}
	if !run(t, tab.ctx, chromedp.Evaluate[bool](`window.e2eNotReloaded === true`)) {
		t.Errorf("the page reloaded instead of updating the state in place")
	}
	tab.wantText(badge, "running")
	tab.screenshot("vm-running.png")
	// The settled page dropped the stale "… is being created." (the poll
	// that found the VM running deletes it).
	if n := tab.count("main > .flash.success"); n != 0 {
		t.Errorf("%d success flashes left on the running VM's page", n)
	}

	tab.submit(`#vm-status a[href="/vms/`+vm.ID+`/console"]`, http.StatusOK)
	tab.wantText("main h1", "Console of "+name)
	rows := `(document.querySelector(".xterm-rows")?.textContent ?? "")`
	if _, err := chromedp.Run(tab.ctx, chromedp.Poll[bool](rows+`.includes(`+strconv.Quote(hvtest.GuestMarker)+`)`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(120*time.Second))); err != nil {
		t.Fatalf("the guest's %s never showed on the console: %v\nstatus %q, screen %q", hvtest.GuestMarker, err,
			tab.html("#console-status"), run(t, tab.ctx, chromedp.Evaluate[string](rows)))
	}
	tab.wantText("#console-status", "connected")
	// Typed as a person would: into xterm's hidden textarea, Enter last.
	tab.typeKeys(".xterm-helper-textarea", "hello\r")
	if _, err := chromedp.Run(tab.ctx, chromedp.Poll[bool](rows+`.includes(`+strconv.Quote(hvtest.GuestEchoPrefix+"hello")+`)`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("no echo of hello on the console: %v\nscreen %q", err, run(t, tab.ctx, chromedp.Evaluate[string](rows)))
	}
	tab.screenshot("vm-console.png")

	// The redesigned page, the console and the searched list on a phone
	// (a tab of its own, with its own time): no sideways scroll, nothing
	// axe finds serious.
	phone := b.newTabWithin(t, p.url, vmTabTimeout)
	run(t, phone.ctx, chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile))
	phone.logIn(f.Member.Email, crash.Password)
	for _, path := range []string{"/vms/" + vm.ID, "/vms/" + vm.ID + "/console", "/vms?q=" + name} {
		checkPage(t, phone, "en", path)
	}
	phone.open("/vms/" + vm.ID)
	phone.screenshot("vm-phone.png")

	tab.submit(`main a[href="/vms/`+vm.ID+`"]`, http.StatusOK)
	tab.wantPath("/vms/" + vm.ID)
	tab.fill(".vm-delete #f-confirm", name)
	tab.submit(`form.vm-delete button[type=submit]`, http.StatusOK)
	tab.wantPath("/vms")
	tab.wantText("main .flash.success", "The virtual machine is being deleted.")
	// The list polls while the VM is being deleted and drops it when the
	// job is done, again without a reload.
	run(t, tab.ctx, chromedp.Evaluate[chromedp.Void](`window.e2eNotReloaded = true`))
	if err := chromedp.Do(tab.ctx,
		chromedp.WaitNotPresent(chromedp.CSS(`#vms tr[data-vm="`+name+`"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#vms[hx-get]`)),
	); err != nil {
		t.Fatalf("the VM did not leave the list: %v\n%s", err, tab.html("#vms"))
	}
	if !run(t, tab.ctx, chromedp.Evaluate[bool](`window.e2eNotReloaded === true`)) {
		t.Errorf("the list reloaded instead of updating in place")
	}
	tab.wantText("#vms p.muted", "No virtual machines yet.")
	if got, err := f.VMs.Get(ctx, f.AdminViewer, vm.ID); err != nil || got.State != compute.VMDeleted {
		t.Errorf("VM after delete: %+v, %v; want state deleted", got, err)
	}

	uri := f.Host.URI
	if out, err := crash.Virsh(uri, "list", "--all", "--name"); err != nil || strings.Contains(out, vm.DomainName()) {
		t.Errorf("domain %s left in libvirt (%v):\n%s", vm.DomainName(), err, out)
	}
	out, err := crash.Virsh(uri, "vol-list", "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{vm.DiskVolume(), vm.SeedVolume()} {
		if strings.Contains(out, v) {
			t.Errorf("volume %s left in the pool:\n%s", v, out)
		}
	}
}

// startVMPortal runs a portal with a private libvirtd ("auto").
func startVMPortal(t *testing.T) *portal { t.Helper(); return startVMPortalWith(t, nil) }

// startVMPortalWith is startVMPortal with a change to the configuration.
func startVMPortalWith(t *testing.T, edit func(*web.Config)) *portal {
	t.Helper()
	// Short: libvirtd's socket paths below it must fit 107 bytes.
	dir, err := os.MkdirTemp("", "alm-v")
	if err != nil {
		t.Fatal(err)
	}
	// Runs after the portal's shutdown: the portal leaves its private
	// libvirtd running, as it must for guests; the test's own ends here.
	t.Cleanup(func() {
		if err := hypervisor.StopDaemon(web.LibvirtDir(dir), slog.New(slog.DiscardHandler)); err != nil {
			t.Errorf("stop libvirtd: %v", err)
		}
		os.RemoveAll(dir)
	})
	// QEMU runs as libvirt-qemu and must reach the pool below the data dir.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"), Libvirt: "auto",
		Workers: 2, ShutdownGrace: 2 * time.Second}
	if edit != nil {
		edit(cfg)
	}
	srv, err := web.New(ctx, cfg, quietLog(t))
	if err != nil {
		t.Fatalf("start portal: %v", err)
	}
	addr, err := srv.Start(ctx)
	if err != nil {
		srv.Shutdown(ctx)
		t.Fatalf("start portal: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &portal{srv: srv, url: "http://" + addr, dataDir: dir}
}

func quietLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// vmOnPage is the VM whose page the tab shows (/vms/<id>); libvirt names
// derive from the id alone.
func vmOnPage(t *testing.T, tb *tab) *compute.VM {
	t.Helper()
	loc := run(t, tb.ctx, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := strings.CutPrefix(u.Path, "/vms/")
	if !ok || id == "" || strings.Contains(id, "/") {
		t.Fatalf("at %s, want a VM's page", loc)
	}
	return &compute.VM{ID: id}
}

// typeKeys focuses sel and types keys as a keyboard does: one keyDown
// that carries the text, then keyUp. chromedp.SendKeys sends the text in a
// separate "char" event instead, which Chromium turns into a keypress even
// when the page cancelled the keydown; xterm.js handles most keys on
// keydown and cancels it, so with SendKeys every key reached the guest
// twice ("hheelllloo"), which a real keyboard never does.
func (tb *tab) typeKeys(sel, keys string) {
	tb.t.Helper()
	err := chromedp.Do(tb.ctx, chromedp.Focus(chromedp.CSS(sel), chromedp.NodeReady),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			for _, r := range keys {
				var down, up *input.DispatchKeyEventParams
				for _, ev := range kb.Encode(r) {
					switch ev.Type {
					case kb.KeyDown:
						down = ev
					case kb.KeyChar:
						down.Text, down.UnmodifiedText = ev.Text, ev.UnmodifiedText
					case kb.KeyUp:
						up = ev
					}
				}
				for _, ev := range []*input.DispatchKeyEventParams{down, up} {
					if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, *ev); err != nil {
						return err
					}
				}
			}
			return nil
		}))
	if err != nil {
		tb.t.Fatalf("type into %s: %v", sel, err)
	}
}
