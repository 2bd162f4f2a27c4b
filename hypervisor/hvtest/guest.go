package hvtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"allmende/starter"
)

// The tests' guest is the portal's starter guest (package starter): Debian's
// kernel plus an initramfs holding only busybox and an /init script, see
// there for how it behaves on its serial console.
const (
	GuestMarker     = starter.GuestMarker
	GuestEchoPrefix = starter.GuestEchoPrefix
	GuestCmdline    = starter.GuestCmdline
	GuestMemoryMiB  = starter.GuestMemoryMiB
)

// CacheEnv names a directory to keep the downloaded kernel in. By default
// it is /var/cache/allmende-testguest as root (QEMU, running as
// libvirt-qemu, cannot reach into root's home) and the user's cache dir
// otherwise.
const CacheEnv = "ALLMENDE_TESTGUEST_CACHE"

// GuestCounter returns the last counter value in console output of the
// test guest, and false if there is none yet.
func GuestCounter(output string) (int, bool) { return starter.GuestCounter(output) }

// Guest returns the paths of the test guest's kernel and initramfs, building
// them on first use (see starter.Build) in the cache dir (CacheDir).
func Guest(t testing.TB) (kernel, initrd string) {
	t.Helper()
	files := GuestFiles(t)
	return files.Kernel, files.Initrd
}

// GuestFiles is Guest with the guest's disk as well.
func GuestFiles(t testing.TB) starter.Files {
	t.Helper()
	dir, err := CacheDir()
	if err != nil {
		t.Fatalf("hvtest guest: %v", err)
	}
	files, err := starter.Build(context.Background(), dir, t.Logf)
	if err != nil {
		t.Fatalf("hvtest guest: %v", err)
	}
	return files
}

// CacheDir is where the test guest's files are kept, shared by all test
// processes on the machine (a portal under test may use it as its starter
// cache, to skip the download).
func CacheDir() (string, error) {
	dir := os.Getenv(CacheEnv)
	if dir == "" && os.Geteuid() == 0 {
		dir = "/var/cache/allmende-testguest"
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache dir (set %s): %w", CacheEnv, err)
		}
		dir = filepath.Join(base, "allmende-testguest")
	}
	return dir, nil
}
