package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSelfCommand(t *testing.T) {
	for in, want := range map[string]string{
		"bin/allmende":                       "bin/allmende",
		"allmende":                           "allmende",
		"/tmp/go-build123/b001/exe/allmende": "go run .",
		"/opt/my apps/allmende":              "'/opt/my apps/allmende'",
	} {
		if got := selfCommand(in); got != want {
			t.Errorf("selfCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

// `go tool task run` ends with status 0 on Ctrl-C (SIGINT to the whole
// foreground process group, as a terminal sends it), leaves no server
// behind, and its "first admin" hint works as printed.
func TestTaskRunFirstAdminAndCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the portal through task")
	}
	data := t.TempDir()
	cmd := exec.Command("go", "tool", "task", "run", "--", "--listen", "127.0.0.1:0", "--libvirt", "none", "--data", data)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var hint string
	timeout := time.After(3 * time.Minute)
	for hint == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("task ended before the portal ran")
			}
			if strings.Contains(l, " user create ") {
				hint = strings.TrimSpace(l)
			}
		case <-timeout:
			t.Fatal("the portal did not start within 3 minutes")
		}
	}
	if want := "bin/allmende user create --data " + data; !strings.HasPrefix(hint, want) {
		t.Errorf("first admin hint %q, want it to start with %q", hint, want)
	}
	// The hint runs as printed, from the checkout, beside the server.
	out, err := exec.Command("sh", "-c", hint+" </dev/null").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "password (shown once)") {
		t.Errorf("hint %q: %v\n%s", hint, err, out)
	}
	server := serverPID(t, data)

	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range lines { // drain, so the pipe never blocks task
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Errorf("task exited with %v after Ctrl-C, want status 0", err)
		} else if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("task still running a minute after Ctrl-C")
	}
	if err := syscall.Kill(server, 0); err == nil {
		t.Errorf("server %d still running after task ended", server)
	}
}

// serverPID finds the process serving data, a child of task.
func serverPID(t *testing.T, data string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && strings.HasSuffix(args[0], "allmende") && args[1] == "serve" && strings.Contains(string(b), data) {
			var pid int
			if _, err := fmt.Sscan(filepath.Base(filepath.Dir(p)), &pid); err == nil {
				return pid
			}
		}
	}
	t.Fatalf("no server process for %s", data)
	return 0
}
