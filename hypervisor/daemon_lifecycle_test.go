package hypervisor_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"libvirt.org/go/libvirtxml"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// helperDirEnv makes TestHelperStartDaemon start a daemon in that dir, as a
// portal would, in a process of its own that the test can kill.
const helperDirEnv = "ALLMENDE_TEST_HELPER_DAEMON_DIR"

// TestHelperStartDaemon is not a test: run as a child process by the tests
// below, it starts the daemon, says so and waits to be killed.
func TestHelperStartDaemon(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	if _, err := hypervisor.StartDaemon(context.Background(), dir, hvtest.Logger(t)); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("READY")
	select {}
}

// startInChild starts the daemon in dir from a child process and returns
// that process once the daemon answers.
func startInChild(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartDaemon$", "-test.v")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if line == "READY" {
			go func() { // keep draining, or the child blocks on a full pipe
				for sc.Scan() {
				}
			}()
			return cmd
		}
		if strings.HasPrefix(line, "ERROR") {
			t.Fatalf("helper: %s", line)
		}
	}
	t.Fatalf("helper exited without starting the daemon: %v", sc.Err())
	return nil
}

// newDir returns a short dir whose daemon is stopped when the test ends.
func newDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "alm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := hypervisor.StopDaemon(dir, hvtest.Logger(t)); err != nil {
			t.Errorf("stop daemon: %v", err)
		}
		os.RemoveAll(dir)
	})
	return dir
}

// startGuest starts a transient guest (QEMU without a disk, idling in its
// firmware) and returns its QEMU process as seen from here.
func startGuest(t *testing.T, uri, dir, name string) int {
	t.Helper()
	x, err := (&libvirtxml.Domain{
		Type:   "qemu",
		Name:   name,
		Memory: &libvirtxml.DomainMemory{Value: 32, Unit: "MiB"},
		VCPU:   &libvirtxml.DomainVCPU{Value: 1},
		OS:     &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: "x86_64", Machine: "pc", Type: "hvm"}},
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(file, []byte(x), 0o644); err != nil {
		t.Fatal(err)
	}
	virsh(t, uri, "create", file)
	return qemuPID(t, name)
}

// qemuPID finds the QEMU process of the guest called name.
func qemuPID(t *testing.T, name string) int {
	t.Helper()
	pids := processesMentioning(t, "guest="+name+",")
	if len(pids) != 1 {
		t.Fatalf("QEMU processes of guest %s: %v, want one", name, pids)
	}
	return pids[0]
}

// holderPID finds the process that holds the daemon of dir: the shell that
// is PID 1 of the daemon's namespace.
func holderPID(t *testing.T, dir string) int {
	t.Helper()
	for _, pid := range processesMentioning(t, dir) {
		cmd, _ := os.ReadFile(filepath.Join("/proc", itoa(pid), "cmdline"))
		status, _ := os.ReadFile(filepath.Join("/proc", itoa(pid), "status"))
		if bytes.HasPrefix(cmd, []byte("/bin/sh\x00-c\x00")) && regexp.MustCompile(`(?m)^NSpid:.*\s1$`).Match(status) {
			return pid
		}
	}
	t.Fatalf("no holder process for %s", dir)
	return 0
}

// libvirtdPID finds the libvirtd serving dir.
func libvirtdPID(t *testing.T, dir string) int {
	t.Helper()
	pids := processesMentioning(t, filepath.Join(dir, "libvirtd.conf"))
	for _, pid := range pids {
		if cmd, _ := os.ReadFile(filepath.Join("/proc", itoa(pid), "cmdline")); bytes.Contains(cmd, []byte("libvirtd\x00")) {
			return pid
		}
	}
	t.Fatalf("no libvirtd for %s among %v", dir, pids)
	return 0
}

// waitAnswers waits until the host at uri answers virsh again.
func waitAnswers(t *testing.T, uri string, timeout time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	for {
		if err := exec.Command("virsh", "-c", uri, "version").Run(); err == nil {
			return time.Since(began)
		}
		if time.Since(began) > timeout {
			t.Fatalf("host %s does not answer within %s", uri, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func wantRunning(t *testing.T, uri, name string, qemu int) {
	t.Helper()
	if st := strings.TrimSpace(virsh(t, uri, "domstate", name)); st != "running" {
		t.Errorf("guest %s is %q, want running", name, st)
	}
	if st := procState(qemu); st == 0 || st == 'Z' {
		t.Errorf("guest %s's QEMU (pid %d) is gone", name, qemu)
	}
}

// The process that started the daemon (a portal) is killed: the daemon and
// its guest go on as if nothing happened, and a new start reuses them.
func TestDaemonOutlivesStarter(t *testing.T) {
	t.Parallel()
	dir := newDir(t)
	starter := startInChild(t, dir)
	uri := "qemu+unix:///system?socket=" + filepath.Join(dir, "run", "libvirt-sock")
	qemu := startGuest(t, uri, dir, "survivor")

	if err := starter.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = starter.Wait()
	time.Sleep(time.Second) // what a parent-death signal would have done is done by now
	waitAnswers(t, uri, time.Second)
	wantRunning(t, uri, "survivor", qemu)

	d, err := hypervisor.StartDaemon(testContext(t), dir, hvtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	wantRunning(t, d.URI(), "survivor", qemu)
}

// libvirtd itself dies: its holder starts it again within seconds, and the
// new libvirtd reconnects to the guest, which never stopped.
func TestLibvirtdRestartedKeepsGuests(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	qemu := startGuest(t, d.URI(), d.Dir(), "kept")
	for i := range 3 {
		old := libvirtdPID(t, d.Dir())
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for alive(old) && procState(old) != 'Z' {
			time.Sleep(10 * time.Millisecond)
		}
		took := waitAnswers(t, d.URI(), 10*time.Second)
		t.Logf("kill %d: libvirtd answers again after %s", i+1, took.Round(time.Millisecond))
		wantRunning(t, d.URI(), "kept", qemu)
		if now := libvirtdPID(t, d.Dir()); now == old {
			t.Fatalf("libvirtd pid %d unchanged: it was not killed", now)
		}
	}
}

// The whole host dies (its holder killed: a crash of the "machine"), again
// and again. Every start must come up, and must start from an empty run
// state, as a rebooted machine does: the guests of the dead namespace are
// gone, and a daemon that tried to reconnect to their QEMU PIDs (which mean
// other processes in a new namespace) failed to come up now and then.
func TestRestartAfterHostKilledRepeatedly(t *testing.T) {
	t.Parallel()
	dir := newDir(t)
	for i := range 10 {
		d, err := hypervisor.StartDaemon(testContext(t), dir, hvtest.Logger(t))
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		if log := newLog(t, dir); strings.Contains(log, "qemuMonitorOpen") {
			t.Fatalf("start %d reconnected to guests of a dead namespace:\n%s", i+1, log)
		}
		if out := strings.TrimSpace(virsh(t, d.URI(), "list", "--name")); out != "" {
			t.Fatalf("start %d: guests %q of a dead namespace reported running", i+1, out)
		}
		startGuest(t, d.URI(), dir, "g1")
		startGuest(t, d.URI(), dir, "g2")
		holder := holderPID(t, dir)
		if err := syscall.Kill(holder, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for alive(holder) && procState(holder) != 'Z' {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// newLog returns what libvirtd logged since it last started (the log is
// appended to across starts; each start logs its version first).
func newLog(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "libvirtd.log"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(b), "info : libvirt version")
	if len(parts) < 2 {
		return string(b)
	}
	return parts[len(parts)-1]
}

// procState is a process's state letter from /proc/<pid>/stat, 0 if gone.
func procState(pid int) byte {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// A supervised daemon whose holder is killed (the whole host gone, as in a
// crash of the machine) is started again; one stopped on request is not.
func TestSuperviseRestartsHost(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Supervise(ctx, 200*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	old := holderPID(t, d.Dir())
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for procState(old) != 0 && procState(old) != 'Z' {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the dead daemon's socket no longer answers
	took := waitAnswers(t, d.URI(), 15*time.Second)
	t.Logf("host answers again %s after its holder was killed", took.Round(time.Millisecond))
	if now := holderPID(t, d.Dir()); now == old {
		t.Fatalf("holder pid %d unchanged", now)
	}

	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // five rounds of supervision
	if left := processesMentioning(t, d.Dir()); len(left) > 0 {
		t.Errorf("a daemon stopped on request was started again: %v", left)
	}
}

// A daemon whose directory is removed stops by itself (with its guests):
// nothing can name it for `libvirtd stop` any more.
func TestDaemonStopsWhenDirRemoved(t *testing.T) {
	t.Parallel()
	dir := newDir(t)
	d, err := hypervisor.StartDaemon(testContext(t), dir, hvtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	qemu := startGuest(t, d.URI(), dir, "orphan")
	holder := holderPID(t, dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, pid := range []int{holder, qemu} {
		for syscall.Kill(pid, 0) == nil && procState(pid) != 'Z' {
			if time.Now().After(deadline) {
				t.Fatalf("process %d of the removed daemon dir still runs", pid)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("processes left for the removed dir: %v", left)
	}
}
