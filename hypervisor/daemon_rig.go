package hypervisor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

// DaemonOptions turn a private daemon into one host of a multi-host rig:
// several independent libvirt hosts on one machine that can reach each
// other over TCP, e.g. to live-migrate guests between them. The zero value
// is the plain private daemon of StartDaemon (unix socket only).
//
// The TCP listener has no authentication (auth_tcp = "none") and no TLS,
// and it only listens on 127.0.0.1: acceptable for a development or test
// rig on one machine, where every local process may use it; never for a
// host other machines can reach.
type DaemonOptions struct {
	// TCPPort makes libvirtd listen on 127.0.0.1:TCPPort (libvirtd
	// --listen, listen_tcp = 1). 0: no TCP listener.
	TCPPort int
	// HostUUID is the host's UUID (libvirtd's host_uuid). libvirt refuses
	// to migrate to "the same host", which it tells by this UUID, so every
	// rig host needs its own. Empty with a TCPPort: generated once and
	// kept in <dir>/host-uuid, so the host keeps it across restarts.
	HostUUID string
	// MigrationPorts is the range of ports QEMU listens on for incoming
	// migrations (qemu.conf migration_port_min/max). Zero: libvirt's.
	MigrationPorts [2]int
	// DisplayPorts is the range for VNC/SPICE displays (qemu.conf
	// remote_display_port_min/max, at least 5900). Zero: libvirt's.
	DisplayPorts [2]int
	// CPUControl gives the daemon's guests libvirt's cgroup CPU
	// controllers (cpu and cpuacct; on this kind of machine, cgroup v1
	// with a v2 hierarchy beside it, "cpu" alone fails with "v2 controller
	// '(null)' is not available"), which CPU limits (schedinfo vcpu_quota,
	// SetThrottle) need. Off in the zero value: all private daemons share
	// the machine's one cgroup tree and libvirt names a guest's cgroup
	// machine/qemu-<id>-<name>.libvirt-qemu, the same for the first guest
	// "vm1" of every daemon, so two such guests would share (and the first
	// to stop would remove) one cgroup. The portal's own daemon turns it on:
	// its domain names are UUIDs (compute.VM.DomainName). Only as root:
	// session daemons have no cgroups, and the option is then ignored.
	CPUControl bool
}

func (o DaemonOptions) zero() bool { return o == DaemonOptions{} }

// needsRoot reports whether the options ask for what only a namespaced
// (root) daemon has: a TCP listener, a host UUID, port ranges.
func (o DaemonOptions) needsRoot() bool {
	o.CPUControl = false
	return !o.zero()
}

// hostUUIDFile keeps a rig host's generated host_uuid.
const hostUUIDFile = "host-uuid"

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// resolve fills in the host UUID (read from or stored into dir) and checks
// the options.
func (o DaemonOptions) resolve(dir string) (DaemonOptions, error) {
	if o.zero() {
		return o, nil
	}
	if o.TCPPort < 0 || o.TCPPort > 65535 {
		return o, fmt.Errorf("daemon options: TCP port %d out of range", o.TCPPort)
	}
	for _, r := range []struct {
		name string
		p    [2]int
		min  int
	}{{"migration", o.MigrationPorts, 1}, {"display", o.DisplayPorts, 5900}} {
		if r.p != [2]int{} && (r.p[0] < r.min || r.p[1] < r.p[0] || r.p[1] > 65535) {
			return o, fmt.Errorf("daemon options: %s ports %d-%d: want %d <= min <= max <= 65535", r.name, r.p[0], r.p[1], r.min)
		}
	}
	if o.HostUUID != "" {
		o.HostUUID = strings.ToLower(o.HostUUID)
		if !uuidRE.MatchString(o.HostUUID) {
			return o, fmt.Errorf("daemon options: host UUID %q is not a UUID", o.HostUUID)
		}
		return o, nil
	}
	if o.TCPPort == 0 {
		return o, nil
	}
	file := filepath.Join(dir, hostUUIDFile)
	if b, err := os.ReadFile(file); err == nil {
		o.HostUUID = strings.TrimSpace(string(b))
		if !uuidRE.MatchString(o.HostUUID) {
			return o, fmt.Errorf("%s holds %q, not a UUID", file, o.HostUUID)
		}
		return o, nil
	} else if !os.IsNotExist(err) {
		return o, fmt.Errorf("read host UUID: %w", err)
	}
	o.HostUUID = newUUID()
	if err := os.WriteFile(file, []byte(o.HostUUID+"\n"), 0o644); err != nil {
		return o, fmt.Errorf("store host UUID: %w", err)
	}
	return o, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// libvirtdConf is what the options add to libvirtd.conf.
func (o DaemonOptions) libvirtdConf() string {
	var b strings.Builder
	if o.TCPPort != 0 {
		// Unauthenticated and unencrypted: loopback only (see DaemonOptions).
		fmt.Fprintf(&b, "listen_tcp = 1\nlisten_tls = 0\nlisten_addr = \"127.0.0.1\"\ntcp_port = \"%d\"\nauth_tcp = \"none\"\n", o.TCPPort)
	}
	if o.HostUUID != "" {
		fmt.Fprintf(&b, "host_uuid = \"%s\"\n", o.HostUUID)
	}
	return b.String()
}

// qemuConf is what the options put in front of the private qemu.conf.
// migration_host/migration_address stay unset: libvirtd refuses 127.0.0.1
// there ("the address of the local machine"); without them the destination
// names its hostname, which on a rig machine resolves to this machine.
func (o DaemonOptions) qemuConf() string {
	var b strings.Builder
	if p := o.MigrationPorts; p != [2]int{} {
		fmt.Fprintf(&b, "migration_port_min = %d\nmigration_port_max = %d\n", p[0], p[1])
	}
	if p := o.DisplayPorts; p != [2]int{} {
		fmt.Fprintf(&b, "remote_display_port_min = %d\nremote_display_port_max = %d\n", p[0], p[1])
	}
	if o.CPUControl {
		b.WriteString("cgroup_controllers = [ \"cpu\", \"cpuacct\" ]\n")
	}
	return b.String()
}

// writeQEMUConf rewrites the private qemu.conf in etc (see privateEtc) with
// the options' settings in front, on every start, so that changed options
// take effect. Without such settings it leaves the file alone.
func (o DaemonOptions) writeQEMUConf(machineEtc, etc string) error {
	extra := o.qemuConf()
	if extra == "" {
		return nil
	}
	machineConf, err := os.ReadFile(filepath.Join(machineEtc, "qemu.conf"))
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read qemu.conf: %w", err)
	}
	conf := "# Rig host settings (allmende DaemonOptions).\n" + extra + "\n" + privateQEMUConf + string(machineConf)
	if err := os.WriteFile(filepath.Join(etc, "qemu.conf"), []byte(conf), 0o644); err != nil {
		return fmt.Errorf("write qemu.conf: %w", err)
	}
	return nil
}

// StartDaemonWith is StartDaemon for a daemon with options, typically one
// host of a rig. It needs root: each host is its own mount and PID
// namespace (libvirt's session mode can neither listen on TCP nor migrate).
// A daemon already running in dir is reused as it is; it must answer on
// the options' TCP port.
func StartDaemonWith(ctx context.Context, dir string, log *slog.Logger, opts DaemonOptions) (*Daemon, error) {
	if opts.needsRoot() && os.Geteuid() != 0 {
		return nil, errors.New("a libvirt host with TCP listener or host UUID needs root (private namespaces)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("daemon dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create daemon dir: %w", err)
	}
	if opts, err = opts.resolve(abs); err != nil {
		return nil, err
	}
	cfg := defaultStartConfig()
	cfg.opts = opts
	d, err := startDaemon(ctx, abs, log, cfg)
	if err != nil {
		return nil, err
	}
	if opts.TCPPort != 0 {
		if err := waitTCP(ctx, d.TCPURI(), cfg.readyTimeout); err != nil {
			return nil, fmt.Errorf("libvirtd in %s: %w%s", abs, err, d.logTails())
		}
	}
	return d, nil
}

// waitTCP waits until a libvirtd answers an RPC at uri.
func waitTCP(ctx context.Context, uri string, timeout time.Duration) error {
	ep, err := parseURI(uri)
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
			return fmt.Errorf("no answer on %s within %s: %w", uri, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TCPURI is the host's URI over its TCP listener, qemu+tcp://127.0.0.1:PORT/system,
// which other hosts of a rig can use (migration needs it); empty without one.
func (d *Daemon) TCPURI() string {
	if d.cfg.opts.TCPPort == 0 {
		return ""
	}
	return fmt.Sprintf("qemu+tcp://127.0.0.1:%d/system", d.cfg.opts.TCPPort)
}

// HostUUID is the host_uuid the daemon was started with; empty if libvirt
// picks its own.
func (d *Daemon) HostUUID() string { return d.cfg.opts.HostUUID }

// Rig layout: host NAME of a rig in DIR lives in DIR/hosts/NAME.
const rigHostsDir = "hosts"

// RigHostDir is where host name of the rig in dir keeps its daemon.
func RigHostDir(dir, name string) string { return filepath.Join(dir, rigHostsDir, name) }

// RigHostOptions are the default options of the i-th host (0-based) of a
// rig: TCP port basePort+i, migration ports 49300+100i..49399+100i
// (beside libvirt's default 49152-49215), displays 6000+100i..6099+100i.
func RigHostOptions(i, basePort int) DaemonOptions {
	return DaemonOptions{
		TCPPort:        basePort + i,
		MigrationPorts: [2]int{49300 + 100*i, 49399 + 100*i},
		DisplayPorts:   [2]int{6000 + 100*i, 6099 + 100*i},
	}
}

// StartRigHost starts (or finds running) host name of the rig in dir, with
// its own storage pool "default" in <host dir>/pools/default.
func StartRigHost(ctx context.Context, dir, name string, opts DaemonOptions, log *slog.Logger) (*Daemon, error) {
	if !hostNameRE.MatchString(name) {
		return nil, fmt.Errorf("rig host name %q: use lowercase letters, digits and hyphens", name)
	}
	if opts.TCPPort == 0 {
		return nil, fmt.Errorf("rig host %s: needs a TCP port", name)
	}
	hd := RigHostDir(dir, name)
	d, err := StartDaemonWith(ctx, hd, log.With("host", name), opts)
	if err != nil {
		return nil, fmt.Errorf("rig host %s: %w", name, err)
	}
	m := NewManager(log)
	defer m.Close()
	if err := m.EnsureDirPool(ctx, d.URI(), "default", filepath.Join(d.Dir(), "pools", "default")); err != nil {
		return nil, fmt.Errorf("rig host %s: %w", name, err)
	}
	return d, nil
}

var hostNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// RigHosts lists the names of the rig hosts that have a directory in dir,
// running or not, sorted.
func RigHosts(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, rigHostsDir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rig hosts: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// StopRig stops every host of the rig in dir (see StopDaemon); hosts that
// do not run are skipped.
func StopRig(dir string, log *slog.Logger) error {
	names, err := RigHosts(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if err := StopDaemon(RigHostDir(dir, n), log); err != nil {
			errs = append(errs, fmt.Errorf("rig host %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// KillRigHost ends a rig host at once, as a power cut would: SIGKILL to
// its holder, PID 1 of the daemon's PID namespace, takes libvirtd and every
// QEMU of the host with it. For failover tests; StartRigHost starts it
// again. Only namespaced hosts (root) can be killed whole.
func KillRigHost(dir, name string) error {
	hd := RigHostDir(dir, name)
	pid, ok := findHolder(hd)
	if !ok {
		return fmt.Errorf("rig host %s: no holder process", name)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("rig host %s: kill holder %d: %w", name, pid, err)
	}
	if !waitGone(pid, 10*time.Second) {
		return fmt.Errorf("rig host %s: holder %d still there after SIGKILL", name, pid)
	}
	return nil
}
