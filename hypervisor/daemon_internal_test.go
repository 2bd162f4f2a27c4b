package hypervisor

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartDaemonNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // an empty dir: no libvirtd anywhere on PATH
	cfg := defaultStartConfig()
	cfg.searchDirs = nil // and not in /usr/sbin either

	dir, err := os.MkdirTemp("", "alm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	_, err = startDaemon(context.Background(), dir, slog.New(slog.DiscardHandler), cfg)
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "libvirtd is not installed: run: go tool task setup") {
		t.Errorf("err = %q lacks the setup hint", err)
	}
}

func TestStartDaemonDirTooLong(t *testing.T) {
	dir := "/tmp/" + strings.Repeat("d", 100)
	_, err := StartDaemon(context.Background(), dir, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("err = %v, want a too-long error", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("StartDaemon created %s despite refusing it", dir)
	}
}

func TestRequireQEMUUser(t *testing.T) {
	missing := func(string) error { return errors.New("unknown") }
	present := func(string) error { return nil }
	if err := requireQEMUUser(present, present); err != nil {
		t.Errorf("both present: %v", err)
	}
	err := requireQEMUUser(present, missing)
	if err == nil || !strings.Contains(err.Error(), "useradd -r -g libvirt-qemu") {
		t.Errorf("group missing: err = %v, want the commands to fix it", err)
	}
}

func TestKVMWarning(t *testing.T) {
	f := filepath.Join(t.TempDir(), "kvm")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	myGID := func() (int, error) { return os.Getgid(), nil }
	if w := kvmWarning(f, myGID); !strings.Contains(w, "chmod 660") {
		t.Errorf("mode 0600: warning = %q", w)
	}
	if err := os.Chmod(f, 0o660); err != nil {
		t.Fatal(err)
	}
	if w := kvmWarning(f, myGID); w != "" {
		t.Errorf("mode 0660, own group: warning = %q", w)
	}
	if w := kvmWarning(filepath.Join(t.TempDir(), "none"), myGID); w != "" {
		t.Errorf("no device: warning = %q", w)
	}
}

// TestStartFailureShowsLog breaks the daemon's namespace setup on purpose:
// the error must carry the end of the daemon's log, which says why.
func TestStartFailureShowsLog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the private namespace is only set up as root")
	}
	dir, err := os.MkdirTemp("", "alm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// A file where the private /etc/libvirt directory belongs: the bind
	// mount onto /etc/libvirt fails.
	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ns", "etc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = StartDaemon(context.Background(), dir, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("StartDaemon succeeded with a broken dir")
	}
	if !strings.Contains(err.Error(), "daemon.log") || !strings.Contains(err.Error(), "mount") {
		t.Errorf("error lacks the daemon log's explanation: %v", err)
	}
	t.Log(err)
}
