// Package starter builds a tiny bootable Linux guest from Debian packages:
// Debian's kernel, an initramfs holding only busybox and an /init script,
// and a small empty raw disk. It is the portal's first-run image (the
// "starter.build" job imports it into a host's pool) and the tests' guest
// (hypervisor/hvtest). It speaks no libvirt: it runs apt-get and writes
// files into a cache directory.
package starter

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// The guest boots by direct kernel boot in a few seconds under TCG and
// talks on its serial console (ttyS0):
//
//   - it prints GuestMarker as soon as it is up, and again every two
//     seconds while nothing is typed, because output sent while no console
//     is attached is lost (QEMU's pty drops it); these repeats carry a
//     counter that only the guest itself keeps ("ALLMENDE-GUEST-UP 7"), so
//     one can tell a guest that ran on from one started again (see
//     GuestCounter);
//   - every line typed comes back as GuestEchoPrefix + line, except
//     "poweroff", which powers the guest off (state shutoff), and "sh",
//     which starts a busybox shell on the console (exit returns).
const (
	GuestMarker     = "ALLMENDE-GUEST-UP"
	GuestEchoPrefix = "ALLMENDE-ECHO: "
	// GuestCmdline is the kernel command line to boot the guest with.
	GuestCmdline = "console=ttyS0 panic=-1"
	// GuestMemoryMiB is enough for the kernel and its initramfs.
	GuestMemoryMiB = 128
	// DiskBytes is the size of the guest's disk. The guest runs from its
	// initramfs and never touches the disk by itself (tests write to
	// /dev/vda from its shell); it is there because every VM has one.
	DiskBytes = 16 << 20
)

// guestInit is the guest's PID 1. Echo of typed input by the tty itself is
// switched off so that only the script's answer comes back.
//
// Before announcing itself it loads the virtio modules (see guestModules)
// and mounts devtmpfs, so that the disk is /dev/vda and the network card
// eth0. The kernel's messages about them are kept off the console, where
// they would mix with the script's output; the level is restored after.
const guestInit = `#!/bin/sh
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t sysfs sysfs /sys
level=$(busybox cut -f1 /proc/sys/kernel/printk)
busybox dmesg -n 1
for m in $(busybox cat /lib/modules/` + moduleOrder + `); do
	busybox insmod /lib/modules/$m.ko || echo "insmod $m failed"
done
busybox mount -t devtmpfs devtmpfs /dev
busybox dmesg -n "$level"
busybox stty -echo 2>/dev/null
echo ` + GuestMarker + `
n=0
while :; do
	if read -t 2 -r line; then
		case "$line" in
		poweroff) busybox poweroff -f ;;
		sh) busybox stty echo 2>/dev/null; busybox sh; busybox stty -echo 2>/dev/null ;;
		*) echo "` + GuestEchoPrefix + `$line" ;;
		esac
	else
		n=$((n+1))
		echo "` + GuestMarker + ` $n"
	fi
done
`

// GuestCounter returns the last counter value in console output of the
// guest, and false if there is none yet.
func GuestCounter(output string) (int, bool) {
	m := counterRe.FindAllStringSubmatch(output, -1)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[len(m)-1][1])
	return n, err == nil
}

var counterRe = regexp.MustCompile(GuestMarker + ` (\d+)\r?\n`)

// Logf reports progress, as log.Printf or testing.T.Logf do.
type Logf func(format string, args ...any)

// Files are the guest's files, all in the cache directory and readable by
// everyone (a private libvirtd's QEMU runs as another user).
type Files struct {
	Kernel string // a bzImage
	Initrd string // a gzipped cpio archive
	Disk   string // DiskBytes of zeros, raw (sparse)
}

// Build returns the guest's files in dir, building what is not there yet.
// The first build downloads Debian's kernel package (about 60 MB, via
// apt-get, so apt's package lists must be there); later builds, from any
// process, reuse the cached kernel. busybox comes from /bin/busybox when it
// is the static one (package busybox-static), else from the downloaded
// package. Builds in one dir are serialised by a lock file.
func Build(ctx context.Context, dir string, logf Logf) (Files, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, fmt.Errorf("create cache dir: %w", err)
	}
	// Readable for QEMU, which runs as another user.
	if err := os.Chmod(dir, 0o755); err != nil {
		return Files{}, fmt.Errorf("cache dir permissions: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return Files{}, err
	}
	defer unlock()

	var out Files
	var mods []module
	if out.Kernel, mods, err = cachedKernel(ctx, dir, logf); err != nil {
		return Files{}, fmt.Errorf("guest kernel: %w", err)
	}
	busybox, err := staticBusybox(ctx, dir, logf)
	if err != nil {
		return Files{}, fmt.Errorf("busybox: %w", err)
	}
	if out.Initrd, err = cachedInitrd(dir, busybox, mods); err != nil {
		return Files{}, fmt.Errorf("guest initramfs: %w", err)
	}
	if out.Disk, err = cachedDisk(dir); err != nil {
		return Files{}, fmt.Errorf("guest disk: %w", err)
	}
	return out, nil
}

// lockDir serialises guest building between processes (go test runs
// packages in parallel; the portal's job and the tests may share a cache)
// and goroutines: flock locks belong to open files.
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

// staticBusybox returns a statically linked busybox: the installed one if
// it is (busybox-static), else dir/busybox, taken from Debian's
// busybox-static package once.
func staticBusybox(ctx context.Context, dir string, logf Logf) ([]byte, error) {
	if b, err := os.ReadFile("/bin/busybox"); err == nil && isStatic(b) {
		return b, nil
	}
	path := filepath.Join(dir, "busybox")
	if b, err := os.ReadFile(path); err == nil && isStatic(b) {
		return b, nil
	}
	logf("starter: no static /bin/busybox; downloading busybox-static into %s", dir)
	files, err := filesFromPackage(ctx, dir, "busybox-static", func(name string) bool { return name == "bin/busybox" })
	if err != nil {
		return nil, err
	}
	b := files["bin/busybox"]
	if !isStatic(b) {
		return nil, errors.New("busybox-static's /bin/busybox is not statically linked")
	}
	return b, writeFileAtomic(path, b)
}

// cachedInitrd builds the initramfs into dir, named after its contents, so
// a changed init script, busybox or module gives a new file and never a
// stale one.
func cachedInitrd(dir string, busybox []byte, mods []module) (string, error) {
	entries := []cpioEntry{
		{name: "bin", mode: modeDir | 0o755},
		{name: "dev", mode: modeDir | 0o755},
		// The kernel opens /dev/console for init's stdio before any
		// devtmpfs exists: without this node init would have none.
		{name: "dev/console", mode: modeCharDev | 0o600, major: 5, minor: 1},
		{name: "proc", mode: modeDir | 0o755},
		{name: "bin/busybox", mode: modeRegular | 0o755, data: busybox},
		{name: "bin/sh", mode: modeSymlink | 0o777, data: []byte("busybox")},
		{name: "init", mode: modeRegular | 0o755, data: []byte(guestInit)},
		{name: "sys", mode: modeDir | 0o755},
		{name: "lib", mode: modeDir | 0o755},
		{name: "lib/modules", mode: modeDir | 0o755},
	}
	var order strings.Builder
	for _, m := range mods {
		entries = append(entries, cpioEntry{name: "lib/modules/" + m.name + ".ko", mode: modeRegular | 0o644, data: m.data})
		order.WriteString(m.name + "\n")
	}
	entries = append(entries, cpioEntry{name: "lib/modules/" + moduleOrder, mode: modeRegular | 0o644, data: []byte(order.String())})
	var archive bytes.Buffer
	if err := writeCPIO(&archive, entries); err != nil {
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

// cachedDisk makes dir/disk.raw, DiskBytes of zeros (a sparse file).
func cachedDisk(dir string) (string, error) {
	path := filepath.Join(dir, "disk.raw")
	if fi, err := os.Stat(path); err == nil && fi.Size() == DiskBytes {
		return path, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	err = errors.Join(tmp.Truncate(DiskBytes), tmp.Chmod(0o644), tmp.Close())
	if err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
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
