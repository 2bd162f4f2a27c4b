package hypervisor

import (
	"context"
	"errors"
	"log/slog"
	"os"
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
