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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// Daemon is a private libvirtd (with its own virtlogd) whose config, sockets,
// state and logs all live under one directory.
//
// As root, the daemon runs in its own mount and PID namespaces with libvirt's
// fixed state paths (/etc/libvirt, /var/lib/libvirt, /var/cache/libvirt,
// /var/log/libvirt) bind-mounted from the directory, so any number of
// daemons can run beside each other and beside the machine's own libvirtd,
// each a separate "host" with its own pools and guests. Its URI is
// qemu+unix:///system?socket=<dir>/run/libvirt-sock.
//
// The daemon does not belong to the process that starts it: the portal
// manages guests but does not own their lives. A small holder process (the
// daemon script, see daemonScript) runs detached in a session of its own,
// as PID 1 of the namespace, and keeps libvirtd and virtlogd running,
// restarting them within seconds if they die. QEMU processes are children of
// the holder, not of libvirtd, so they survive both a portal that crashes,
// restarts or upgrades and a libvirtd that dies; a restarted libvirtd
// reconnects to them. Only StopDaemon (the `allmende libvirtd stop` command,
// and tests) ends the holder and with it the namespace and its guests.
//
// Not as root, mount namespaces are unavailable (without user namespaces,
// which libvirtd's privileged mode could not use anyway), so the daemon runs
// in libvirt's unprivileged session mode with XDG_* dirs pointing into the
// directory; that isolates it as well, but it is a session host
// (qemu+unix:///session?...), and guests it starts outlive Stop. Best effort.
type Daemon struct {
	dir        string
	namespaced bool
	log        *slog.Logger
	cfg        startConfig
}

// startConfig holds what tests need to vary; StartDaemon uses the defaults.
type startConfig struct {
	searchDirs   []string      // where to look for the daemons besides PATH
	readyTimeout time.Duration // how long libvirtd may take to answer
	stopTimeout  time.Duration // how long Stop waits before SIGKILL
	opts         DaemonOptions // TCP listener, host UUID, port ranges (rig hosts)
}

func defaultStartConfig() startConfig {
	return startConfig{searchDirs: sbinDirs, readyTimeout: 20 * time.Second, stopTimeout: 15 * time.Second}
}

// StartDaemon makes sure a private libvirtd runs in dir (created if needed)
// and returns once it answers on its socket. If one already runs for dir
// (started by an earlier portal, say), it is reused as it is, guests and
// all; otherwise a new one is started, detached from the calling process.
// Either way the daemon keeps running when the caller exits: stop it with
// StopDaemon or Daemon.Stop.
//
// dir must be short: libvirtd's socket paths below it must fit the 107 bytes
// a unix socket path may have (os.MkdirTemp("", "alm") is fine; deep test
// temp dirs may not be). Starting again on a dir used before keeps that
// host's pools and guest definitions.
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create daemon dir: %w", err)
	}
	// Two portals starting on one data dir at once must not both start a
	// holder: the second waits here and then finds the first's.
	unlock, err := lockFile(filepath.Join(dir, "daemon.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	d := &Daemon{dir: dir, namespaced: namespaced, log: log, cfg: cfg}
	// Starting is asking for the daemon: Supervise may keep it up again.
	if err := os.Remove(filepath.Join(dir, stoppedMarker)); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("daemon dir: %w", err)
	}
	if pid, ok := findHolder(dir); ok {
		log.Info("reusing the running private libvirtd", "dir", dir, "holder", pid)
		alive := func() error {
			if !processAlive(pid) {
				return fmt.Errorf("its holder (pid %d) exited", pid)
			}
			return nil
		}
		if err := d.waitReady(ctx, cfg.readyTimeout, alive); err != nil {
			return nil, fmt.Errorf("libvirtd in %s (holder pid %d) runs but does not answer: %w%s", dir, pid, err, d.logTails())
		}
		log.Info("libvirtd ready", "uri", d.URI())
		return d, nil
	}
	// A live socket without our holder is a daemon someone else started;
	// our readiness check would mistake it for the one we are about to start.
	if c, err := net.DialTimeout("unix", d.SocketPath(), time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("a libvirtd not started by allmende is already running in %s", dir)
	}
	if err := writeDaemonFiles(dir, namespaced, cfg.opts); err != nil {
		return nil, err
	}
	exited, err := d.start(libvirtd, virtlogd)
	if err != nil {
		return nil, err
	}
	if err := d.waitReady(ctx, cfg.readyTimeout, exited); err != nil {
		err = fmt.Errorf("libvirtd in %s did not come up: %w%s", dir, err, d.logTails())
		if stopErr := d.Stop(); stopErr != nil {
			log.Warn("stopping the daemon that did not come up failed", "dir", dir, "err", stopErr)
		}
		return nil, err
	}
	log.Info("libvirtd ready", "uri", d.URI())
	return d, nil
}

// holderName is the holder's $0: ps shows it, and findHolder looks for it.
const holderName = "allmende-libvirt-holder"

// start launches the daemon script (see daemonScript) detached: in a session
// of its own (no signal to the caller's process group or terminal reaches
// it) and without a parent-death signal, so that it outlives the caller.
// The returned func reports an error once the holder has exited; it is only
// meaningful while this process is the holder's parent.
func (d *Daemon) start(libvirtd, virtlogd string) (exited func() error, err error) {
	out, err := os.OpenFile(filepath.Join(d.dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	defer out.Close() // the child has its own copy

	ns := "0"
	if d.namespaced {
		ns = "1"
	}
	listen := "0"
	if d.cfg.opts.TCPPort != 0 {
		listen = "1"
	}
	cmd := exec.Command("/bin/sh", "-c", daemonScript, holderName, d.dir, libvirtd, virtlogd, ns, listen)
	cmd.Dir = d.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if d.namespaced {
		// Fresh namespaces for the script itself, so that it is PID 1: the
		// QEMU processes libvirtd starts are reparented to it, not to
		// libvirtd, and live as long as it does.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNS | syscall.CLONE_NEWPID
	} else {
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
			return nil, fmt.Errorf("start libvirtd in private namespaces (needs CAP_SYS_ADMIN): %w", err)
		}
		return nil, fmt.Errorf("start libvirtd: %w", err)
	}
	d.log.Info("libvirtd starting", "dir", d.dir, "namespaced", d.namespaced, "holder", cmd.Process.Pid)

	// Reap the holder if it exits while we live (after we exit, init does).
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	return func() error {
		select {
		case <-done:
			return fmt.Errorf("daemon exited: %v", waitErr)
		default:
			return nil
		}
	}, nil
}

// waitReady polls until libvirtd answers an RPC on its socket. Accepting a
// connection is not enough: libvirtd listens before its drivers are loaded
// and only serves clients after. gone reports the holder's end, to fail at
// once rather than after the timeout.
func (d *Daemon) waitReady(ctx context.Context, timeout time.Duration, gone func() error) error {
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
		if err := gone(); err != nil {
			return err
		}
		select {
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

// Stop stops the daemon; see StopDaemon.
func (d *Daemon) Stop() error {
	return stopDaemon(d.dir, d.log, d.cfg.stopTimeout)
}

// StopDaemon stops the private libvirtd running in dir, if any: SIGTERM to
// its holder, which stops libvirtd and then virtlogd, SIGKILL if it has not
// gone after a while. As root nothing of the daemon survives, not even its
// guests (they are killed with its namespace). Stopping a dir where nothing
// runs is not an error.
func StopDaemon(dir string, log *slog.Logger) error {
	return stopDaemon(dir, log, defaultStartConfig().stopTimeout)
}

func stopDaemon(dir string, log *slog.Logger, timeout time.Duration) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("daemon dir: %w", err)
	}
	// Tell a supervising portal that this stop is wanted (see Supervise).
	if err := os.WriteFile(filepath.Join(dir, stoppedMarker), nil, 0o644); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("daemon dir: %w", err)
	}
	pid, ok := findHolder(dir)
	if !ok {
		if c, err := net.DialTimeout("unix", filepath.Join(dir, socketDirName, socketName), time.Second); err == nil {
			c.Close()
			return fmt.Errorf("a libvirtd answers in %s, but it has no allmende holder process to stop", dir)
		}
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal libvirtd holder %d: %w", pid, err)
	}
	if !waitGone(pid, timeout) {
		log.Warn("libvirtd did not stop in time; killing it", "dir", dir, "timeout", timeout)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if os.Geteuid() != 0 {
		// No namespace to end for us: kill what is left of the holder's
		// session (guests put themselves in sessions of their own).
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	if !waitGone(pid, 10*time.Second) {
		return fmt.Errorf("libvirtd in %s (holder pid %d) did not exit after SIGKILL", dir, pid)
	}
	log.Info("libvirtd stopped", "dir", dir)
	return nil
}

// stoppedMarker is a file StopDaemon leaves in the dir, so that Supervise
// does not start again what an operator stopped.
const stoppedMarker = "stopped-on-request"

// Supervise keeps the daemon up until ctx ends. The holder already restarts
// a libvirtd or virtlogd that dies, guests kept; Supervise covers the
// holder itself dying (killed by hand or by the OOM killer): that ends the
// namespace and its guests like a crash of the machine, and Supervise
// starts a fresh daemon on the same dir within about every, as a machine
// reboots. A daemon stopped with StopDaemon stays stopped.
func (d *Daemon) Supervise(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, ok := findHolder(d.dir); ok {
			continue
		}
		if _, err := os.Stat(filepath.Join(d.dir, stoppedMarker)); err == nil {
			continue
		}
		d.log.Error("the private libvirtd's holder is gone, and with it its guests; starting it again", "dir", d.dir)
		if _, err := startDaemon(ctx, d.dir, d.log, d.cfg); err != nil && ctx.Err() == nil {
			d.log.Error("restarting the private libvirtd failed", "dir", d.dir, "err", err)
		}
	}
}

// DaemonStatus describes the private libvirtd of a dir.
type DaemonStatus struct {
	Running   bool   // its holder process exists
	HolderPID int    // as seen from here; 0 if not running
	Answering bool   // libvirtd answers an RPC on its socket
	URI       string // the host's libvirt URI
}

// StatusOf reports whether a private libvirtd runs in dir and answers.
func StatusOf(dir string) (DaemonStatus, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return DaemonStatus{}, fmt.Errorf("daemon dir: %w", err)
	}
	d := &Daemon{dir: dir, namespaced: os.Geteuid() == 0}
	st := DaemonStatus{URI: d.URI()}
	st.HolderPID, st.Running = findHolder(dir)
	if ep, err := parseURI(st.URI); err == nil {
		if s, err := dialSession(ep, 2*time.Second); err == nil {
			s.close()
			st.Answering = true
		}
	}
	return st, nil
}

// findHolder finds the holder process of the daemon in dir by its command
// line (sh -c <script> allmende-libvirt-holder <dir> ...), which unlike a
// pid file cannot point at a reused PID. Children the holder has forked but
// not yet exec'd share its command line; they are told apart by having a
// holder as their parent.
func findHolder(dir string) (int, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	parents := map[int]int{} // matching pid -> its parent
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		argv := strings.Split(string(b), "\x00")
		if len(argv) < 5 || argv[3] != holderName || argv[4] != dir {
			continue
		}
		ppid, state := procStat(pid)
		if state == 'Z' {
			continue
		}
		parents[pid] = ppid
	}
	for pid, ppid := range parents {
		if _, child := parents[ppid]; !child {
			return pid, true
		}
	}
	return 0, false
}

// procStat returns a process's parent and state from /proc/<pid>/stat
// (state 0 if it is gone).
func procStat(pid int) (ppid int, state byte) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0
	}
	// "pid (comm) S ppid ...": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, 0
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0][0]
}

// processAlive reports whether pid exists and is not a zombie: a holder
// whose parent has not reaped it yet has ended all the same.
func processAlive(pid int) bool {
	_, state := procStat(pid)
	return state != 0 && state != 'Z'
}

// waitGone waits up to timeout for pid to end.
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// lockFile takes an exclusive flock on path, waiting for it. The descriptor
// is close-on-exec, so a holder started meanwhile does not inherit the lock.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
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
