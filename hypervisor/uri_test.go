package hypervisor

import (
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	ok := []struct {
		uri                   string
		transport, addr, want string
	}{
		{"qemu:///system", "unix", "/run/libvirt/libvirt-sock", "qemu:///system"},
		{"qemu+unix:///system?socket=/tmp/a/run/libvirt-sock", "unix", "/tmp/a/run/libvirt-sock", "qemu:///system"},
		{"qemu+unix:///session?socket=/tmp/a%20b/sock", "unix", "/tmp/a b/sock", "qemu:///session"},
		{"test+unix:///default?socket=/s", "unix", "/s", "test:///default"},
		{"qemu+tcp://10.0.0.5:1234/system", "tcp", "10.0.0.5:1234", "qemu:///system"},
		{"qemu+tcp://host.example/system", "tcp", "host.example:16509", "qemu:///system"},
		{"qemu+tcp://[::1]/system", "tcp", "[::1]:16509", "qemu:///system"},
	}
	for _, c := range ok {
		ep, err := parseURI(c.uri)
		if err != nil {
			t.Errorf("parseURI(%q): %v", c.uri, err)
			continue
		}
		if ep.transport != c.transport || ep.address() != c.addr || string(ep.driver) != c.want {
			t.Errorf("parseURI(%q) = %s %s %s, want %s %s %s",
				c.uri, ep.transport, ep.address(), ep.driver, c.transport, c.addr, c.want)
		}
	}

	bad := []struct{ uri, msg string }{
		{"xen:///system", "driver"},
		{"qemu+ssh://host/system", "transport"},
		{"qemu+tls://host/system", "transport"},
		{"qemu://host/system", "transport"}, // libvirt would use TLS here
		{"qemu+unix:///nosuch?socket=/s", "path"},
		{"test+unix:///system?socket=/s", "path"},
		{"qemu+unix:///session", "socket"},
		{"qemu+unix:///system?socket=relative/sock", "absolute"},
		{"qemu+unix:///system?socket=/s&mode=direct", "parameter"},
		{"qemu+tcp:///system", "host"},
		{"qemu+tcp://root@host/system", "user"},
		{"qemu+unix://host/system?socket=/s", "no host"},
		{"not a uri", "driver"},
		{"", "driver"},
	}
	for _, c := range bad {
		err := ValidateURI(c.uri)
		if err == nil {
			t.Errorf("ValidateURI(%q) accepted it", c.uri)
			continue
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ValidateURI(%q) = %v, want it to mention %q", c.uri, err, c.msg)
		}
	}
}

func TestSocketURIRoundTrip(t *testing.T) {
	for _, sock := range []string{"/tmp/alm123/run/libvirt-sock", "/tmp/a b&c=d/run/libvirt-sock"} {
		uri := socketURI("qemu:///system", sock)
		ep, err := parseURI(uri)
		if err != nil {
			t.Fatalf("parseURI(%q): %v", uri, err)
		}
		if ep.socket != sock {
			t.Errorf("socket of %q = %q, want %q", uri, ep.socket, sock)
		}
	}
	if got := socketURI("qemu:///system", "/tmp/x/run/libvirt-sock"); got != "qemu+unix:///system?socket=/tmp/x/run/libvirt-sock" {
		t.Errorf("socketURI = %q", got)
	}
}
