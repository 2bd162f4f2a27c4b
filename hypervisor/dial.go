package hypervisor

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// session is one live go-libvirt connection plus the raw socket under it.
// We keep the raw socket because go-libvirt has no timeouts: closing it is
// the only way to abort a call that a wedged daemon never answers.
type session struct {
	l   *libvirt.Libvirt
	raw net.Conn
}

// dialSession connects to ep and opens its driver. The whole handshake is
// bounded by timeout: if libvirtd accepted the socket but never answers (it
// does not serve clients until its drivers are up), the socket is closed.
func dialSession(ep endpoint, timeout time.Duration) (*session, error) {
	d := &recordingDialer{ep: ep, timeout: timeout}
	l := libvirt.NewWithDialer(d)

	// A read deadline would not do: go-libvirt treats timeouts as temporary
	// and would spin on them. Closing the socket ends its reader for good.
	timer := time.AfterFunc(timeout, d.close)
	err := l.ConnectToURI(ep.driver)
	stopped := timer.Stop()
	if err != nil {
		d.close()
		return nil, fmt.Errorf("connect to %s at %s: %w", ep.driver, ep.address(), err)
	}
	if !stopped {
		// The timer fired just as the handshake finished: the socket is gone.
		return nil, fmt.Errorf("connect to %s at %s: handshake timed out after %s", ep.driver, ep.address(), timeout)
	}
	return &session{l: l, raw: d.conn()}, nil
}

// close ends the session. It asks libvirtd politely first, but gives up
// after a short while and closes the socket, so it never hangs.
func (s *session) close() {
	done := make(chan struct{})
	go func() {
		_ = s.l.Disconnect()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	_ = s.raw.Close()
}

// recordingDialer dials like go-libvirt's own dialers but remembers the
// connection it made.
type recordingDialer struct {
	ep      endpoint
	timeout time.Duration

	mu sync.Mutex
	c  net.Conn
}

func (d *recordingDialer) Dial() (net.Conn, error) {
	var c net.Conn
	var err error
	switch d.ep.transport {
	case "unix":
		c, err = dialers.NewLocal(dialers.WithSocket(d.ep.socket), dialers.WithLocalTimeout(d.timeout)).Dial()
	case "tcp":
		c, err = dialers.NewRemote(d.ep.host, dialers.UsePort(d.ep.port), dialers.WithRemoteTimeout(d.timeout)).Dial()
	default:
		err = fmt.Errorf("unsupported transport %q", d.ep.transport)
	}
	if err != nil {
		return nil, err
	}
	// go-libvirt needs a call's reply before its stream data (replyfirst.go).
	c = newReplyFirstConn(c)
	d.mu.Lock()
	d.c = c
	d.mu.Unlock()
	return c, nil
}

func (d *recordingDialer) conn() net.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}

func (d *recordingDialer) close() {
	if c := d.conn(); c != nil {
		_ = c.Close()
	}
}
