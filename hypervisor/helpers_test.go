package hypervisor_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// newManager returns a Manager closed when the test ends. Create it after
// the daemons it talks to, so that it closes before they stop.
func newManager(t *testing.T) *hypervisor.Manager {
	t.Helper()
	m := hypervisor.NewManager(hvtest.Logger(t))
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// virsh runs virsh against uri and returns its standard output.
func virsh(t *testing.T, uri string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("virsh", append([]string{"-c", uri}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("virsh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// fields parses virsh's "Key:   value" output.
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// processesMentioning lists the PIDs whose command line contains s.
func processesMentioning(t *testing.T, s string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		if bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// poolDir returns a directory for a pool below the daemon's own dir.
func poolDir(d *hypervisor.Daemon, name string) string {
	return filepath.Join(d.Dir(), "pools", name)
}

func findPool(pools []hypervisor.Pool, name string) (hypervisor.Pool, bool) {
	for _, p := range pools {
		if p.Name == name {
			return p, true
		}
	}
	return hypervisor.Pool{}, false
}

func poolExists(pools []hypervisor.Pool, name string) bool {
	_, ok := findPool(pools, name)
	return ok
}

func itoa(i int) string { return strconv.Itoa(i) }

// alive reports whether a process with this PID exists (zombies included).
func alive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}
