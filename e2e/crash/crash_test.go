package crash

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
	"allmende/models/compute"
)

// binary is the portal built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "almbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "allmende")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build portal: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// portal is one run of `allmende serve` as a child process.
type portal struct {
	t    *testing.T
	dir  string
	cmd  *exec.Cmd
	log  *os.File
	addr string
}

// newDataDir makes a short data dir (libvirtd's socket paths must fit
// 107 bytes) that QEMU, running as libvirt-qemu, can traverse.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "almc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	// Runs after every portal on dir has been killed: the portals leave
	// their private libvirtd running, as they must for guests.
	t.Cleanup(func() {
		if err := hypervisor.StopDaemon(filepath.Join(dir, "libvirt"), hvtest.Logger(t)); err != nil {
			t.Errorf("stop libvirtd: %v", err)
		}
		os.RemoveAll(dir)
	})
	return dir
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPortal runs the portal on dir and waits until it answers.
func startPortal(t *testing.T, dir string) *portal {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dir, "portal.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p := &portal{t: t, dir: dir, log: logf, addr: freePort(t)}
	p.cmd = exec.Command(binary, "serve", "--data", dir, "--listen", p.addr, "--libvirt", "auto", "--workers", "4")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("portal did not come up; log:\n%s", p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL, as a crash would: no shutdown, no hand-back.
func (p *portal) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.log.Close()
}

func (p *portal) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "portal.log"))
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// waitLine waits until the task's log has a line containing part.
func waitLine(t *testing.T, f *Fixture, taskID, part string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		task, err := f.Tasks.Get(ctx, f.AdminViewer, taskID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(TaskLog(task), part) {
			return
		}
		if !task.Active() || time.Now().After(deadline) {
			t.Fatalf("task %s never logged %q (%s): %s", taskID, part, task.Status, TaskLog(task))
		}
		time.Sleep(time.Millisecond)
	}
}

// domains lists the host's allmende- domains (virsh list --all).
func domains(t *testing.T, uri string) []string {
	t.Helper()
	out, err := Virsh(uri, "list", "--all", "--name")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Fields(out) {
		if strings.HasPrefix(l, "allmende-") {
			names = append(names, l)
		}
	}
	return names
}

// volumes lists the pool's volumes (virsh vol-list).
func volumes(t *testing.T, uri string) []string {
	t.Helper()
	out, err := Virsh(uri, "vol-list", "default")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(out, "\n")[2:] {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	slices.Sort(names)
	return names
}

// wantOnce checks that the VM has exactly one task, succeeded, whose
// River job completed.
func wantOnce(t *testing.T, f *Fixture, vmID, taskID string) *compute.TaskDetail {
	t.Helper()
	ctx := context.Background()
	done, err := f.WaitTask(ctx, taskID, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != compute.TaskSucceeded {
		t.Fatalf("task %s: %s; log: %s", done.Status, done.Error, TaskLog(done))
	}
	tasks, err := f.Tasks.List(ctx, f.AdminViewer, compute.TaskFilter{VMID: vmID})
	if err != nil {
		t.Fatal(err)
	}
	var state string
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := f.DB.SQL.QueryRowContext(ctx, `SELECT state FROM river_job WHERE id = ?`, *done.RiverJobID).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == "completed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if state != "completed" {
		t.Errorf("river job %d is %s, want completed", *done.RiverJobID, state)
	}
	if n := countActive(tasks); n != 0 {
		t.Errorf("%d tasks still active", n)
	}
	return done
}

func countActive(tasks []compute.Task) int {
	n := 0
	for _, t := range tasks {
		if t.Active() {
			n++
		}
	}
	return n
}

// createAPI asks for a VM through the API with the member's token.
func createAPI(t *testing.T, f *Fixture, p *portal, name string) (*compute.VM, *compute.Task) {
	t.Helper()
	ctx := context.Background()
	vmID, taskID, err := f.CreateVMAPI(ctx, "http://"+p.addr, name, f.Small)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := f.VMs.Get(ctx, f.AdminViewer, vmID)
	if err != nil {
		t.Fatal(err)
	}
	return &vm.VM, &compute.Task{ID: taskID}
}

func setup(t *testing.T, dir string) *Fixture {
	t.Helper()
	f, err := Setup(context.Background(), filepath.Join(dir, "allmende.db"), dir, hvtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// kill -9 of the portal in the middle of a create, then a restart: the VM
// ends up running with exactly one domain, one disk and one seed volume.
func TestCrashDuringCreate(t *testing.T) {
	for _, at := range []string{"creating disk volume", "uploading cloud-init seed", "starting"} {
		t.Run(strings.ReplaceAll(at, " ", "_"), func(t *testing.T) {
			dir := newDataDir(t)
			p := startPortal(t, dir)
			f := setup(t, dir)
			ctx := context.Background()
			vm, task := createAPI(t, f, p, "crash-1")
			waitLine(t, f, task.ID, at)
			p.kill()
			if got, _ := f.Tasks.Get(ctx, f.AdminViewer, task.ID); got.Status != compute.TaskRunning {
				t.Logf("killed with the task %s (log: %s)", got.Status, TaskLog(got))
			}

			began := time.Now()
			startPortal(t, dir)
			done := wantOnce(t, f, vm.ID, task.ID)
			t.Logf("finished %s after the restart; log: %s", time.Since(began).Round(time.Millisecond), TaskLog(done))

			uri := f.Host.URI
			if got := domains(t, uri); !slices.Equal(got, []string{vm.DomainName()}) {
				t.Errorf("domains = %v, want only %s", got, vm.DomainName())
			}
			if st, _ := Virsh(uri, "domstate", vm.DomainName()); strings.TrimSpace(st) != "running" {
				t.Errorf("domain state %q", st)
			}
			want := []string{f.Image.Volume, vm.DiskVolume(), vm.SeedVolume()}
			slices.Sort(want)
			if got := volumes(t, uri); !slices.Equal(got, want) {
				t.Errorf("volumes = %v, want %v", got, want)
			}
			got, err := f.VMs.Get(ctx, f.AdminViewer, vm.ID)
			if err != nil || got.State != compute.VMRunning {
				t.Errorf("vm: %v %+v", err, got)
			}
		})
	}
}

// kill -9 in the middle of a delete, then a restart: nothing is left.
func TestCrashDuringDelete(t *testing.T) {
	dir := newDataDir(t)
	p := startPortal(t, dir)
	f := setup(t, dir)
	ctx := context.Background()
	vm, task := createAPI(t, f, p, "crash-2")
	if _, err := f.WaitTask(ctx, task.ID, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	del, err := f.VMs.Delete(ctx, f.Member, f.MemberViewer, vm.ID, "crash-2")
	if err != nil {
		t.Fatal(err)
	}
	waitLine(t, f, del.ID, "removing domain")
	p.kill()

	startPortal(t, dir)
	wantOnce(t, f, vm.ID, del.ID)
	uri := f.Host.URI
	if got := domains(t, uri); len(got) != 0 {
		t.Errorf("domains left: %v", got)
	}
	if got := volumes(t, uri); !slices.Equal(got, []string{f.Image.Volume}) {
		t.Errorf("volumes = %v, want only the image", got)
	}
	got, err := f.VMs.Get(ctx, f.AdminViewer, vm.ID)
	if err != nil || got.State != compute.VMDeleted {
		t.Errorf("vm: %v %+v", err, got)
	}
}

// libvirtd dies in the middle of a create and comes back on the same
// directory (its holder restarts it; StartIn waits for that): the portal's
// connection manager redials, the job finishes exactly once.
func TestLibvirtdRestartDuringCreate(t *testing.T) {
	dir := newDataDir(t)
	p := startPortal(t, dir)
	f := setup(t, dir)
	vm, task := createAPI(t, f, p, "crash-3")
	waitLine(t, f, task.ID, "creating disk volume")
	lvdir := filepath.Join(dir, "libvirt")
	pid := libvirtdPID(t, lvdir)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The daemon's directory is free once its socket no longer answers.
	sock := filepath.Join(lvdir, "run", "libvirt-sock")
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := net.DialTimeout("unix", sock, 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("libvirtd still answers after SIGKILL")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a few failed calls and redials
	restarted := time.Now()
	hvtest.StartIn(t, lvdir)

	done := wantOnce(t, f, vm.ID, task.ID)
	// Some step must have run on the restarted daemon, or the test
	// missed the job.
	if last := done.Lines[len(done.Lines)-1]; last.At.Before(restarted) {
		t.Fatalf("the job finished before libvirtd was restarted; log: %s", TaskLog(done))
	}
	t.Logf("log: %s", TaskLog(done))
	uri := f.Host.URI
	if got := domains(t, uri); !slices.Equal(got, []string{vm.DomainName()}) {
		t.Errorf("domains = %v, want only %s", got, vm.DomainName())
	}
	if st, _ := Virsh(uri, "domstate", vm.DomainName()); strings.TrimSpace(st) != "running" {
		t.Errorf("domain state %q", st)
	}
	want := []string{f.Image.Volume, vm.DiskVolume(), vm.SeedVolume()}
	slices.Sort(want)
	if got := volumes(t, uri); !slices.Equal(got, want) {
		t.Errorf("volumes = %v, want %v", got, want)
	}
}

// libvirtdPID finds the host PID of the libvirtd serving lvdir. Its pid
// file holds the PID inside its PID namespace, so match the command line
// (--config <lvdir>/libvirtd.conf) instead, and check the namespace PID.
func libvirtdPID(t *testing.T, lvdir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(lvdir, "libvirtd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	nsPID := strings.TrimSpace(string(b))
	conf := []byte(filepath.Join(lvdir, "libvirtd.conf"))
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cmd, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte("libvirtd\x00")) || !bytes.Contains(cmd, conf) {
			continue
		}
		status, _ := os.ReadFile(filepath.Join(p, "status"))
		if m := regexp.MustCompile(`NSpid:\s+(.*)`).FindSubmatch(status); m != nil {
			f := strings.Fields(string(m[1]))
			if f[len(f)-1] != nsPID {
				continue
			}
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		return pid
	}
	t.Fatalf("no libvirtd process for %s (pid file says %s)", lvdir, nsPID)
	return 0
}
