package hvtest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

// A tiny Linux guest for tests: Debian's kernel plus an initramfs holding
// only busybox and an /init script. It boots by direct kernel boot in a few
// seconds under TCG and talks on its serial console (ttyS0):
//
//   - it prints GuestMarker as soon as it is up, and again every two
//     seconds while nothing is typed, because output sent while no console
//     is attached is lost (QEMU's pty drops it); these repeats carry a
//     counter that only the guest itself keeps ("ALLMENDE-GUEST-UP 7"), so
//     a test can tell a guest that ran on from one started again (see
//     GuestCounter);
//   - every line typed comes back as GuestEchoPrefix + line;
//   - the line "poweroff" powers the guest off (state shutoff).
const (
	GuestMarker     = "ALLMENDE-GUEST-UP"
	GuestEchoPrefix = "ALLMENDE-ECHO: "
	// GuestCmdline is the kernel command line to boot the guest with.
	GuestCmdline = "console=ttyS0 panic=-1"
	// GuestMemoryMiB is enough for the kernel and its initramfs.
	GuestMemoryMiB = 128
)

// CacheEnv names a directory to keep the downloaded kernel in. By default
// it is /var/cache/allmende-testguest as root (QEMU, running as
// libvirt-qemu, cannot reach into root's home) and the user's cache dir
// otherwise.
const CacheEnv = "ALLMENDE_TESTGUEST_CACHE"

// guestInit is the guest's PID 1. Echo of typed input by the tty itself is
// switched off so that only the script's answer comes back.
const guestInit = `#!/bin/sh
export PATH=/bin
busybox stty -echo 2>/dev/null
echo ` + GuestMarker + `
n=0
while :; do
	if read -t 2 -r line; then
		case "$line" in
		poweroff) busybox poweroff -f ;;
		*) echo "` + GuestEchoPrefix + `$line" ;;
		esac
	else
		n=$((n+1))
		echo "` + GuestMarker + ` $n"
	fi
done
`

// GuestCounter returns the last counter value in console output of the
// test guest, and false if there is none yet.
func GuestCounter(output string) (int, bool) {
	m := counterRe.FindAllStringSubmatch(output, -1)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[len(m)-1][1])
	return n, err == nil
}

var counterRe = regexp.MustCompile(GuestMarker + ` (\d+)\r?\n`)

// Guest returns the paths of the test guest's kernel and initramfs, building
// them on first use. The first call on a machine downloads Debian's kernel
// package (about 60 MB, via apt-get, so apt's package lists must be there);
// later calls, from any test process, reuse the cached kernel. The files are
// world-readable, so any private libvirtd's QEMU can boot them.
func Guest(t testing.TB) (kernel, initrd string) {
	t.Helper()
	dir, err := guestCacheDir()
	if err != nil {
		t.Fatalf("hvtest guest: %v", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatalf("hvtest guest: %v", err)
	}
	defer unlock()

	if kernel, err = cachedKernel(dir, t.Logf); err != nil {
		t.Fatalf("hvtest guest kernel: %v", err)
	}
	if initrd, err = cachedInitrd(dir); err != nil {
		t.Fatalf("hvtest guest initramfs: %v", err)
	}
	return kernel, initrd
}

func guestCacheDir() (string, error) {
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	// Readable for QEMU, which runs as another user.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache dir permissions: %w", err)
	}
	return dir, nil
}

// lockDir serialises guest building between test processes (go test runs
// packages in parallel) and goroutines: flock locks belong to open files.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock cache dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock cache dir: %w", err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// cachedInitrd builds the initramfs into dir, named after its contents, so
// a changed init script or busybox gives a new file and never a stale one.
func cachedInitrd(dir string) (string, error) {
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return "", fmt.Errorf("busybox (install busybox-static): %w", err)
	}
	if !isStatic(busybox) {
		return "", fmt.Errorf("/bin/busybox is dynamically linked: install busybox-static")
	}
	var archive bytes.Buffer
	err = writeCPIO(&archive, []cpioEntry{
		{name: "bin", mode: modeDir | 0o755},
		{name: "dev", mode: modeDir | 0o755},
		// The kernel opens /dev/console for init's stdio before any
		// devtmpfs exists: without this node init would have none.
		{name: "dev/console", mode: modeCharDev | 0o600, major: 5, minor: 1},
		{name: "proc", mode: modeDir | 0o755},
		{name: "bin/busybox", mode: modeRegular | 0o755, data: busybox},
		{name: "bin/sh", mode: modeSymlink | 0o777, data: []byte("busybox")},
		{name: "init", mode: modeRegular | 0o755, data: []byte(guestInit)},
	})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(archive.Bytes())
	path := filepath.Join(dir, "initrd-"+hex.EncodeToString(sum[:8])+".gz")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(archive.Bytes()); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, gz.Bytes()); err != nil {
		return "", err
	}
	return path, nil
}

// isStatic reports whether an ELF executable has no program interpreter,
// i.e. needs no shared libraries (which the initramfs does not have).
func isStatic(exe []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		return false
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// writeFileAtomic writes data to path via a temporary file and rename, so
// that a concurrent reader or a crash never leaves a half-written file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
