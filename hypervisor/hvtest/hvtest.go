// Package hvtest starts real, private libvirt hosts for tests.
package hvtest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"allmende/hypervisor"
)

// SkipEnv, set to 1, turns a missing libvirt into a skipped test instead of
// a failed one. Without it a machine lacking libvirt fails the suite, so that
// a green run always means the real thing was exercised.
const SkipEnv = "ALLMENDE_SKIP_LIBVIRT"

// Start starts a private libvirtd for the test and stops it (and removes its
// directory) when the test ends.
func Start(t testing.TB) *hypervisor.Daemon {
	t.Helper()
	// Not t.TempDir(): its paths can be too long for libvirtd's unix
	// sockets (107 bytes), so use a short one under the system temp dir.
	dir, err := os.MkdirTemp("", "alm")
	if err != nil {
		t.Fatalf("hvtest: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("hvtest: remove %s: %v", dir, err)
		}
	})
	return StartIn(t, dir)
}

// StartIn starts a private libvirtd in dir (which the caller owns), e.g. to
// restart a host on the directory of an earlier one. It is stopped when the
// test ends.
func StartIn(t testing.TB, dir string) *hypervisor.Daemon {
	t.Helper()
	return startIn(t, dir, hypervisor.DaemonOptions{})
}

// StartWith is Start for a daemon with options, e.g. CPUControl for CPU
// limits.
func StartWith(t testing.TB, opts hypervisor.DaemonOptions) *hypervisor.Daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "alm")
	if err != nil {
		t.Fatalf("hvtest: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("hvtest: remove %s: %v", dir, err)
		}
	})
	return startIn(t, dir, opts)
}

// StartInWith is StartIn with options: a host restarted on the directory
// of an earlier one keeps its settings.
func StartInWith(t testing.TB, dir string, opts hypervisor.DaemonOptions) *hypervisor.Daemon {
	t.Helper()
	return startIn(t, dir, opts)
}

func startIn(t testing.TB, dir string, opts hypervisor.DaemonOptions) *hypervisor.Daemon {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := hypervisor.StartDaemonWith(ctx, dir, Logger(t), opts)
	if errors.Is(err, hypervisor.ErrNotInstalled) && os.Getenv(SkipEnv) == "1" {
		t.Skipf("hvtest: %v (%s=1)", err, SkipEnv)
	}
	if err != nil {
		t.Fatalf("hvtest: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("hvtest: stop libvirtd: %v", err)
		}
	})
	return d
}

// Logger returns a logger that writes into the test's output.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
