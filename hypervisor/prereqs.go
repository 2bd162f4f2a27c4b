package hypervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// sbinDirs are searched after PATH: libvirtd and virtlogd live in /usr/sbin,
// which is often not on a non-login PATH.
var sbinDirs = []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}

// findBinary looks name up on PATH, then in extraDirs. A missing daemon
// binary wraps ErrNotInstalled so callers (and tests) can say how to fix it.
func findBinary(name string, extraDirs []string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	for _, dir := range extraDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if name == "libvirtd" {
		return "", ErrNotInstalled
	}
	return "", fmt.Errorf("%s not found on PATH or in %v: %w", name, extraDirs, ErrNotInstalled)
}

// requireQEMUUser checks for the libvirt-qemu user and group, without which
// the privileged QEMU driver refuses to load (Debian's libvirt-daemon-system
// would create them, but it expects systemd). Creating users is the setup
// task's job, not the launcher's.
func requireQEMUUser(lookupUser, lookupGroup func(string) error) error {
	const name = "libvirt-qemu"
	errU, errG := lookupUser(name), lookupGroup(name)
	if errU == nil && errG == nil {
		return nil
	}
	return fmt.Errorf("user and group %s must exist for libvirtd's QEMU driver (run: go tool task setup; "+
		"it runs: groupadd -r kvm; groupadd -r libvirt-qemu; useradd -r -g libvirt-qemu -G kvm libvirt-qemu): %w",
		name, errors.Join(errU, errG))
}

// kvmWarning explains, if so, why /dev/kvm will make libvirt slow: libvirt
// checks /dev/kvm access as the libvirt-qemu user, and when that fails while
// its cached QEMU capabilities say KVM works, it probes QEMU again on every
// capability lookup (~0.7 s per ConnectGetVersion). udev normally makes
// /dev/kvm root:kvm 0660; machines without udev need the setup to do it.
func kvmWarning(path string, kvmGID func() (int, error)) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "" // no KVM: libvirt falls back to TCG without fuss
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	gid, err := kvmGID()
	if err == nil && int(st.Gid) == gid && fi.Mode().Perm()&0o060 == 0o060 {
		return ""
	}
	return fmt.Sprintf("%s is not read-write for group kvm (mode %v): libvirt will re-probe QEMU on most calls, "+
		"each taking most of a second; setup should run: chgrp kvm %s && chmod 660 %s",
		path, fi.Mode().Perm(), path, path)
}

func kvmGroupID() (int, error) {
	g, err := user.LookupGroup("kvm")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}
