package hypervisor

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Layout of a daemon directory. Everything a private daemon writes lives
// below it, so removing the directory removes the host.
const (
	socketDirName = "run"          // libvirtd's sockets (unix_sock_dir)
	socketName    = "libvirt-sock" // the read-write socket
	// longestSocketName is the longest name libvirtd puts in the socket
	// dir; it decides whether the dir is short enough.
	longestSocketName = "libvirt-admin-sock"
	// maxSocketPath is the room in sockaddr_un.sun_path (108 bytes) less
	// the terminating NUL.
	maxSocketPath = 107
)

// nsMounts maps directories under <dir>/ns to the fixed paths libvirt uses
// for its state; the daemon script bind-mounts them in its namespace.
// /run/libvirt is not among them: the script mounts a tmpfs there, so that
// run state never outlives the namespace it describes.
var nsMounts = []struct{ name, target string }{
	{"etc", "/etc/libvirt"},
	{"lib", "/var/lib/libvirt"},
	{"cache", "/var/cache/libvirt"},
	{"log", "/var/log/libvirt"},
}

// checkDir rejects directories that cannot work: too long for the socket
// paths, or with characters that would need quoting in libvirt's config.
func checkDir(dir string) error {
	if strings.ContainsAny(dir, "\"\\\n\r\x00") {
		return fmt.Errorf("daemon dir %q contains a quote, backslash or control character", dir)
	}
	longest := filepath.Join(dir, socketDirName, longestSocketName)
	if len(longest) > maxSocketPath {
		return fmt.Errorf("daemon dir %q is too long: socket path %s is %d bytes, unix sockets allow %d; "+
			"use a shorter dir (at most %d bytes), e.g. from os.MkdirTemp(\"\", \"alm\")",
			dir, longest, len(longest), maxSocketPath, maxSocketPath-(len(longest)-len(dir)))
	}
	return nil
}

// writeDaemonFiles creates the directory tree and configuration of a daemon
// in dir. State from an earlier run in the same dir (pools, domains) is kept.
func writeDaemonFiles(dir string, namespaced bool, opts DaemonOptions) error {
	// 0755, not 0700: QEMU runs as libvirt-qemu and must be able to reach
	// disk images in pools below dir.
	if err := os.MkdirAll(filepath.Join(dir, socketDirName), 0o755); err != nil {
		return fmt.Errorf("create daemon dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("daemon dir permissions: %w", err)
	}

	libvirtdConf := fmt.Sprintf(`# Private libvirtd written by allmende; see package hypervisor.
unix_sock_dir = "%s"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:%s"
`, filepath.Join(dir, socketDirName), filepath.Join(dir, "libvirtd.log")) + opts.libvirtdConf()
	virtlogdConf := fmt.Sprintf(`# Private virtlogd written by allmende; see package hypervisor.
log_outputs = "3:file:%s"
`, filepath.Join(dir, "virtlogd.log"))
	if err := os.WriteFile(filepath.Join(dir, "libvirtd.conf"), []byte(libvirtdConf), 0o644); err != nil {
		return fmt.Errorf("write libvirtd.conf: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "virtlogd.conf"), []byte(virtlogdConf), 0o644); err != nil {
		return fmt.Errorf("write virtlogd.conf: %w", err)
	}

	if !namespaced {
		for _, sub := range []string{"config", "cache", "runtime", "data"} {
			if err := os.MkdirAll(filepath.Join(dir, "xdg", sub), 0o700); err != nil {
				return fmt.Errorf("create session dirs: %w", err)
			}
		}
		return nil
	}
	// Run state that earlier versions kept on disk describes guests of a
	// namespace long gone; see daemonScript.
	if err := os.RemoveAll(filepath.Join(dir, "ns", "run")); err != nil {
		return fmt.Errorf("remove stale run state: %w", err)
	}
	for _, m := range nsMounts {
		if m.name == "etc" {
			continue // made by privateEtc below
		}
		if err := os.MkdirAll(filepath.Join(dir, "ns", m.name), 0o755); err != nil {
			return fmt.Errorf("create %s for %s: %w", m.name, m.target, err)
		}
	}
	if err := privateEtc("/etc/libvirt", filepath.Join(dir, "ns", "etc")); err != nil {
		return err
	}
	return opts.writeQEMUConf("/etc/libvirt", filepath.Join(dir, "ns", "etc"))
}

// privateQEMUConf is put in front of the machine's qemu.conf (libvirt uses
// the first value of a setting). Without it, guests of different private
// daemons share cgroups, which libvirt names machine/qemu-<id>-<name>: the
// first guest called "vm" of every daemon would land in the same one.
const privateQEMUConf = `# Added by allmende for a private libvirtd: several run on one machine and
# their guests must not share cgroups.
cgroup_controllers = [ ]

`

// privateEtc makes dst a copy of the machine's libvirt config dir src,
// without storage/ and qemu/ (pool, domain and network definitions belong
// to the machine's own libvirtd, not to this private host). It only does so
// once: later starts keep what the daemon stored there.
func privateEtc(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	tmp := dst + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("private /etc/libvirt: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("private /etc/libvirt: %w", err)
	}
	if err := copyTree(src, tmp, []string{"storage", "qemu"}); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	machineConf, err := os.ReadFile(filepath.Join(src, "qemu.conf"))
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read qemu.conf: %w", err)
	}
	conf := append([]byte(privateQEMUConf), machineConf...)
	if err := os.WriteFile(filepath.Join(tmp, "qemu.conf"), conf, 0o644); err != nil {
		return fmt.Errorf("write qemu.conf: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("private /etc/libvirt: %w", err)
	}
	return nil
}

// copyTree copies files, directories and symlinks from src to dst, leaving
// out the top-level entries named in skip. A missing src copies nothing.
func copyTree(src, dst string, skip []string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == src && os.IsNotExist(err) {
				return fs.SkipAll
			}
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		for _, s := range skip {
			if rel == s {
				if e.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
		}
		target := filepath.Join(dst, rel)
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		default:
			return nil // sockets, fifos: nothing a config dir needs
		}
	})
}
