package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// Daemon is a private libvirtd (with its own virtlogd) whose config, sockets,
// state and logs all live under one directory.
//
// As root, the daemon runs in its own mount and PID namespaces with libvirt's
// fixed state paths (/etc/libvirt, /run/libvirt, /var/lib/libvirt,
// /var/cache/libvirt, /var/log/libvirt) bind-mounted from the directory, so
// any number of daemons can run beside each other and beside the machine's
// own libvirtd, each a separate "host" with its own pools and guests. Its
// URI is qemu+unix:///system?socket=<dir>/run/libvirt-sock.
//
// Not as root, mount namespaces are unavailable (without user namespaces,
// which libvirtd's privileged mode could not use anyway), so the daemon runs
// in libvirt's unprivileged session mode with XDG_* dirs pointing into the
// directory; that isolates it as well, but it is a session host
// (qemu+unix:///session?...), and guests it starts outlive Stop. Best effort.
type Daemon struct {
	dir         string
	namespaced  bool
	log         *slog.Logger
	stopTimeout time.Duration
	cmd         *exec.Cmd

	exited  chan struct{} // closed once cmd has been waited for
	waitErr error         // valid after exited is closed

	stopOnce sync.Once
	stopErr  error
}

// startConfig holds what tests need to vary; StartDaemon uses the defaults.
type startConfig struct {
	searchDirs   []string      // where to look for the daemons besides PATH
	readyTimeout time.Duration // how long libvirtd may take to answer
	stopTimeout  time.Duration // how long Stop waits before SIGKILL
}

func defaultStartConfig() startConfig {
	return startConfig{searchDirs: sbinDirs, readyTimeout: 20 * time.Second, stopTimeout: 15 * time.Second}
}

// StartDaemon starts a private libvirtd in dir (created if needed) and
// returns once it answers on its socket. dir must be short: libvirtd's
// socket paths below it must fit the 107 bytes a unix socket path may have
// (os.MkdirTemp("", "alm") is fine; deep test temp dirs may not be).
// Starting again on a dir used before keeps that host's pools and guests.
//
// If libvirtd is not installed the error wraps ErrNotInstalled.
func StartDaemon(ctx context.Context, dir string, log *slog.Logger) (*Daemon, error) {
	return startDaemon(ctx, dir, log, defaultStartConfig())
}

func startDaemon(ctx context.Context, dir string, log *slog.Logger, cfg startConfig) (*Daemon, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("daemon dir: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	libvirtd, err := findBinary("libvirtd", cfg.searchDirs)
	if err != nil {
		return nil, err
	}
	virtlogd, err := findBinary("virtlogd", cfg.searchDirs)
	if err != nil {
		return nil, err
	}

	namespaced := os.Geteuid() == 0
	if namespaced {
		if _, err := findBinary("mount", cfg.searchDirs); err != nil {
			return nil, fmt.Errorf("mount (util-linux) is needed to isolate libvirtd: %w", err)
		}
		err := requireQEMUUser(
			func(n string) error { _, err := user.Lookup(n); return err },
			func(n string) error { _, err := user.LookupGroup(n); return err },
		)
		if err != nil {
			return nil, err
		}
		if w := kvmWarning("/dev/kvm", kvmGroupID); w != "" {
			log.Warn(w)
		}
	}
	// A live socket means another daemon owns this dir; our readiness check
	// would mistake it for the one we are about to start.
	if c, err := net.DialTimeout("unix", filepath.Join(dir, socketDirName, socketName), time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("a libvirtd is already running in %s", dir)
	}
	if err := writeDaemonFiles(dir, namespaced); err != nil {
		return nil, err
	}

	d := &Daemon{
		dir:         dir,
		namespaced:  namespaced,
		log:         log,
		stopTimeout: cfg.stopTimeout,
		exited:      make(chan struct{}),
	}
	if err := d.start(libvirtd, virtlogd); err != nil {
		return nil, err
	}
	log.Info("libvirtd starting", "dir", dir, "namespaced", namespaced, "pid", d.cmd.Process.Pid)

	if err := d.waitReady(ctx, cfg.readyTimeout); err != nil {
		err = fmt.Errorf("libvirtd in %s did not come up: %w%s", dir, err, d.logTails())
		_ = d.Stop()
		return nil, err
	}
	log.Info("libvirtd ready", "uri", d.URI())
	return d, nil
}

// start launches the daemon script; see daemonScript.
func (d *Daemon) start(libvirtd, virtlogd string) error {
	out, err := os.OpenFile(filepath.Join(d.dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("daemon log: %w", err)
	}
	defer out.Close() // the child has its own copy

	ns := "0"
	if d.namespaced {
		ns = "1"
	}
	cmd := exec.Command("/bin/sh", "-c", daemonScript, "sh", d.dir, libvirtd, virtlogd, ns)
	cmd.Dir = d.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// If this Go process dies without calling Stop (a test binary killed
		// by a timeout), take the daemon with it. As PID 1 of its namespace
		// the script's death takes everything inside along too.
		Pdeathsig: syscall.SIGKILL,
	}
	if d.namespaced {
		// Fresh namespaces for the script itself, so that it is PID 1 and
		// its PID as seen from here is the one to signal.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNS | syscall.CLONE_NEWPID
	} else {
		cmd.SysProcAttr.Setpgid = true // so Stop can signal the whole group
		x := filepath.Join(d.dir, "xdg")
		cmd.Env = append(os.Environ(),
			"XDG_CONFIG_HOME="+filepath.Join(x, "config"),
			"XDG_CACHE_HOME="+filepath.Join(x, "cache"),
			"XDG_RUNTIME_DIR="+filepath.Join(x, "runtime"),
			"XDG_DATA_HOME="+filepath.Join(x, "data"),
		)
	}
	if err := cmd.Start(); err != nil {
		if d.namespaced && errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("start libvirtd in private namespaces (needs CAP_SYS_ADMIN): %w", err)
		}
		return fmt.Errorf("start libvirtd: %w", err)
	}
	d.cmd = cmd
	go func() {
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	return nil
}

// waitReady polls until libvirtd answers an RPC on its socket. Accepting a
// connection is not enough: libvirtd listens before its drivers are loaded
// and only serves clients after.
func (d *Daemon) waitReady(ctx context.Context, timeout time.Duration) error {
	ep, err := parseURI(d.URI())
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		s, err := dialSession(ep, 2*time.Second)
		if err == nil {
			s.close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within %s: %w", d.SocketPath(), timeout, err)
		}
		select {
		case <-d.exited:
			return fmt.Errorf("daemon exited: %v", d.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Dir is the directory the daemon keeps everything in.
func (d *Daemon) Dir() string { return d.dir }

// SocketPath is libvirtd's read-write socket.
func (d *Daemon) SocketPath() string {
	return filepath.Join(d.dir, socketDirName, socketName)
}

// URI is the libvirt URI of this host, for Manager and virsh alike.
func (d *Daemon) URI() string {
	driver := libvirt.QEMUSystem
	if !d.namespaced {
		driver = libvirt.QEMUSession
	}
	return socketURI(driver, d.SocketPath())
}

// Stop stops libvirtd and virtlogd: SIGTERM first, SIGKILL if they have not
// gone after a while. As root nothing of the daemon survives, not even its
// guests. Calling Stop again returns the first result.
func (d *Daemon) Stop() error {
	d.stopOnce.Do(func() { d.stopErr = d.stop() })
	return d.stopErr
}

func (d *Daemon) stop() error {
	select {
	case <-d.exited:
		return fmt.Errorf("libvirtd in %s had already exited: %v%s", d.dir, d.waitErr, d.logTails())
	default:
	}

	pid := d.cmd.Process.Pid
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.log.Warn("signalling libvirtd failed", "pid", pid, "err", err)
	}
	select {
	case <-d.exited:
		d.log.Info("libvirtd stopped", "dir", d.dir)
	case <-time.After(d.stopTimeout):
		d.log.Warn("libvirtd did not stop in time; killing it", "dir", d.dir, "timeout", d.stopTimeout)
		_ = d.cmd.Process.Kill()
	}
	if !d.namespaced {
		// The namespace's end does not clean up for us: kill what is left of
		// the process group (guests put themselves in sessions of their own).
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	select {
	case <-d.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("libvirtd in %s (pid %d) did not exit after SIGKILL", d.dir, pid)
	}
}

// logTails returns the ends of the daemon's logs, to put into errors: they
// usually say why libvirtd failed.
func (d *Daemon) logTails() string {
	var b strings.Builder
	for _, name := range []string{"daemon.log", "libvirtd.log"} {
		if t := tail(filepath.Join(d.dir, name), 4096); t != "" {
			fmt.Fprintf(&b, "\n--- %s (end) ---\n%s", name, t)
		}
	}
	return b.String()
}

// tail returns up to the last n bytes of a file, starting at a line boundary.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-n, 0)
	buf, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return ""
	}
	s := string(buf)
	if off > 0 {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return strings.TrimRight(s, "\n")
}
