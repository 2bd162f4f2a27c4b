package hypervisor

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/digitalocean/go-libvirt"
)

// defaultTCPPort is libvirtd's standard unencrypted TCP port.
const defaultTCPPort = "16509"

// defaultSystemSocket is where a system libvirtd listens when the URI names no socket.
const defaultSystemSocket = "/run/libvirt/libvirt-sock"

// endpoint is a parsed, validated host URI: how to reach the daemon and which
// driver to open once connected.
type endpoint struct {
	transport string // "unix" or "tcp"
	socket    string // unix only: absolute socket path
	host      string // tcp only
	port      string // tcp only
	// driver is what ConnectToURI opens on the daemon, e.g. "qemu:///system":
	// once the socket is connected, every connection is local to that daemon.
	driver libvirt.ConnectURI
}

func (e endpoint) address() string {
	if e.transport == "unix" {
		return e.socket
	}
	return net.JoinHostPort(e.host, e.port)
}

// driverPaths lists the drivers and paths we support. The test driver is
// libvirt's in-memory fake node, useful for cheap tests.
var driverPaths = map[string][]string{
	"qemu": {"/system", "/session"},
	"test": {"/default"},
}

// ValidateURI checks that uri is a libvirt URI this package can connect to,
// so that the portal can reject bad admin input before storing it.
//
// Supported forms:
//
//	qemu:///system                               (local default socket)
//	qemu+unix:///system?socket=/path/libvirt-sock
//	qemu+unix:///session?socket=/path/libvirt-sock
//	test+unix:///default?socket=/path/libvirt-sock
//	qemu+tcp://host[:port]/system                (port defaults to 16509)
func ValidateURI(uri string) error {
	_, err := parseURI(uri)
	return err
}

func parseURI(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("invalid libvirt URI %q: %w", raw, err)
	}
	if u.Opaque != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("invalid libvirt URI %q: expected driver[+transport]://[host]/path", raw)
	}

	driver, transport, _ := strings.Cut(u.Scheme, "+")
	paths, ok := driverPaths[driver]
	if !ok {
		return endpoint{}, fmt.Errorf("unsupported libvirt URI %q: driver %q (want qemu or test)", raw, driver)
	}
	if !slices.Contains(paths, u.Path) {
		return endpoint{}, fmt.Errorf("unsupported libvirt URI %q: path %q for driver %s (want one of %s)",
			raw, u.Path, driver, strings.Join(paths, ", "))
	}
	if u.User != nil {
		return endpoint{}, fmt.Errorf("unsupported libvirt URI %q: user names are not supported", raw)
	}

	// libvirt itself treats "qemu://host/system" as TLS; we do not speak TLS,
	// so an empty transport is only accepted for a local socket.
	if transport == "" && u.Host == "" {
		transport = "unix"
	}

	ep := endpoint{transport: transport, driver: libvirt.ConnectURI(driver + "://" + u.Path)}
	q := u.Query()
	switch transport {
	case "unix":
		if u.Host != "" {
			return endpoint{}, fmt.Errorf("invalid libvirt URI %q: a unix socket URI has no host", raw)
		}
		if err := onlyParams(q, "socket"); err != nil {
			return endpoint{}, fmt.Errorf("invalid libvirt URI %q: %w", raw, err)
		}
		ep.socket = q.Get("socket")
		if ep.socket == "" {
			if u.Path != "/system" {
				return endpoint{}, fmt.Errorf("invalid libvirt URI %q: give the daemon's socket with ?socket=/path", raw)
			}
			ep.socket = defaultSystemSocket
		}
		if !filepath.IsAbs(ep.socket) {
			return endpoint{}, fmt.Errorf("invalid libvirt URI %q: socket path must be absolute", raw)
		}
	case "tcp":
		if u.Hostname() == "" {
			return endpoint{}, fmt.Errorf("invalid libvirt URI %q: tcp needs a host", raw)
		}
		if err := onlyParams(q); err != nil {
			return endpoint{}, fmt.Errorf("invalid libvirt URI %q: %w", raw, err)
		}
		ep.host = u.Hostname()
		ep.port = u.Port()
		if ep.port == "" {
			ep.port = defaultTCPPort
		}
	default:
		return endpoint{}, fmt.Errorf("unsupported libvirt URI %q: transport %q (want unix or tcp)", raw, transport)
	}
	return ep, nil
}

// onlyParams rejects query parameters we would otherwise silently ignore
// (e.g. no_verify, keyfile): an admin who typed them expects them to work.
func onlyParams(q url.Values, allowed ...string) error {
	for k := range q {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("unsupported parameter %q", k)
		}
	}
	return nil
}

// socketURI builds the URI of a daemon listening on a local socket. Slashes
// stay readable; anything else unusual in the path is query-escaped.
func socketURI(driver libvirt.ConnectURI, socket string) string {
	return strings.Replace(string(driver), "://", "+unix://", 1) +
		"?socket=" + strings.ReplaceAll(url.QueryEscape(socket), "%2F", "/")
}
