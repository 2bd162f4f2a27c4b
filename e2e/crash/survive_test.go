package crash

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
	"allmende/models/compute"
)

// The portal manages guests but does not own their lives: a crash, restart
// or upgrade of the portal never stops one, nor does a libvirtd that dies.
// These tests run a real guest whose own counter keeps advancing on its
// serial console; a guest that had been stopped and started again would
// count from zero in a new QEMU process.

// runningGuest makes a member VM from the test guest image through the
// portal's job and returns its id and domain name once it runs.
func runningGuest(t *testing.T, f *Fixture, name string) (vmID, dom string) {
	t.Helper()
	ctx := context.Background()
	kernel, initrd := hvtest.Guest(t)
	img, err := f.AddGuestImage(ctx, "guest", kernel, initrd, hvtest.GuestCmdline)
	if err != nil {
		t.Fatal(err)
	}
	vm, task, err := f.VMs.Create(ctx, f.Member, f.MemberViewer, compute.VMInput{Name: name, PlanID: f.Small.ID, ImageID: img.ID})
	if err != nil {
		t.Fatal(err)
	}
	wantOnce(t, f, vm.ID, task.ID)
	return vm.ID, vm.DomainName()
}

// guestCounter attaches to the guest's console and returns the next
// counter value it prints.
func guestCounter(t *testing.T, uri, dom string) int {
	t.Helper()
	hv := hypervisor.NewManager(slog.New(slog.DiscardHandler))
	defer hv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	con, err := hv.OpenConsole(ctx, uri, dom)
	if err != nil {
		t.Fatalf("console of %s: %v", dom, err)
	}
	defer con.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := con.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	for {
		mu.Lock()
		n, ok := hvtest.GuestCounter(out.String())
		seen := out.String()
		mu.Unlock()
		if ok {
			return n
		}
		if ctx.Err() != nil {
			t.Fatalf("no counter on %s's console; got %q", dom, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// qemuOf finds the QEMU process of the domain.
func qemuOf(t *testing.T, dom string) int {
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
	return pids[0]
}

// stop sends SIGTERM, as an operator or service manager does, and waits
// for the graceful shutdown to end.
func (p *portal) stop() {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Errorf("portal exit after SIGTERM: %v; log:\n%s", err, p.logTail())
		}
	case <-time.After(60 * time.Second):
		p.t.Fatalf("portal did not stop within 60 s of SIGTERM; log:\n%s", p.logTail())
	}
	p.log.Close()
}

// waitReady waits until /readyz says the database and every host answer.
func (p *portal) waitReady(timeout time.Duration) time.Duration {
	p.t.Helper()
	began := time.Now()
	var last string
	for {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(began)
			}
			last = resp.Status + " " + string(b)
		}
		if time.Since(began) > timeout {
			p.t.Fatalf("portal not ready within %s: %s; log:\n%s", timeout, last, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantGuestRan checks that the domain runs in the same QEMU process as
// before, and that its counter went on past before.
func wantGuestRan(t *testing.T, uri, dom string, qemu, before int) int {
	t.Helper()
	if st, err := Virsh(uri, "domstate", dom); err != nil || strings.TrimSpace(st) != "running" {
		t.Fatalf("domain %s: %q %v, want running", dom, st, err)
	}
	if now := qemuOf(t, dom); now != qemu {
		t.Fatalf("domain %s runs in QEMU pid %d, was %d: it was started again", dom, now, qemu)
	}
	n := guestCounter(t, uri, dom)
	if n <= before {
		t.Fatalf("guest counter %d, was %d: the guest did not run on", n, before)
	}
	return n
}

// The portal is killed (kill -9) or stopped (SIGTERM) while a member's
// guest runs: within 3 s libvirtd still answers and the guest still runs;
// a new portal becomes ready beside them; the guest counted on throughout.
func TestGuestSurvivesPortal(t *testing.T) {
	for _, sig := range []string{"SIGKILL", "SIGTERM"} {
		t.Run(sig, func(t *testing.T) {
			dir := newDataDir(t)
			p := startPortal(t, dir)
			f := setup(t, dir)
			uri := f.Host.URI
			vmID, dom := runningGuest(t, f, "survivor")
			qemu := qemuOf(t, dom)
			before := guestCounter(t, uri, dom)

			if sig == "SIGKILL" {
				p.kill()
			} else {
				p.stop()
			}
			time.Sleep(3 * time.Second)
			if _, err := Virsh(uri, "version"); err != nil {
				t.Fatalf("libvirtd does not answer 3 s after %s of the portal: %v", sig, err)
			}
			if st, _ := Virsh(uri, "domstate", dom); strings.TrimSpace(st) != "running" {
				t.Fatalf("guest is %q 3 s after %s of the portal, want running", st, sig)
			}

			p = startPortal(t, dir)
			took := p.waitReady(60 * time.Second)
			after := wantGuestRan(t, uri, dom, qemu, before)
			t.Logf("restarted portal ready after %s; guest counter %d -> %d", took.Round(time.Millisecond), before, after)
			vm, err := f.VMs.Get(context.Background(), f.AdminViewer, vmID)
			if err != nil || vm.State != compute.VMRunning {
				t.Errorf("the portal's VM after the restart: %v %+v", err, vm)
			}
		})
	}
}

// libvirtd itself is killed while the portal runs: it is back within
// seconds, the portal is ready again, and the guest ran on in its QEMU.
func TestGuestSurvivesLibvirtdKill(t *testing.T) {
	dir := newDataDir(t)
	p := startPortal(t, dir)
	f := setup(t, dir)
	uri := f.Host.URI
	_, dom := runningGuest(t, f, "survivor")
	qemu := qemuOf(t, dom)
	before := guestCounter(t, uri, dom)

	if err := syscall.Kill(libvirtdPID(t, filepath.Join(dir, "libvirt")), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	for {
		if _, err := Virsh(uri, "version"); err == nil {
			break
		}
		if time.Since(began) > 10*time.Second {
			t.Fatalf("libvirtd not back within 10 s of being killed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("libvirtd answers again after %s", time.Since(began).Round(time.Millisecond))
	p.waitReady(30 * time.Second)
	after := wantGuestRan(t, uri, dom, qemu, before)
	t.Logf("guest counter %d -> %d", before, after)
}

// The portal is killed (kill -9) and restarted ten times in a row while a
// guest runs: every restart comes up ready, and the guest runs on.
func TestRepeatedPortalKills(t *testing.T) {
	dir := newDataDir(t)
	p := startPortal(t, dir)
	f := setup(t, dir)
	uri := f.Host.URI
	_, dom := runningGuest(t, f, "survivor")
	qemu := qemuOf(t, dom)
	before := guestCounter(t, uri, dom)
	for i := range 10 {
		p.kill()
		p = startPortal(t, dir)
		took := p.waitReady(60 * time.Second)
		if st, _ := Virsh(uri, "domstate", dom); strings.TrimSpace(st) != "running" {
			t.Fatalf("restart %d: guest is %q, want running", i+1, st)
		}
		if now := qemuOf(t, dom); now != qemu {
			t.Fatalf("restart %d: guest runs in QEMU pid %d, was %d", i+1, now, qemu)
		}
		t.Logf("restart %d ready after %s", i+1, took.Round(time.Millisecond))
	}
	after := wantGuestRan(t, uri, dom, qemu, before)
	t.Logf("guest counter %d -> %d", before, after)
}
