package hypervisor

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// OpenConsole attaches to the running domain's serial console (a domain
// that is not running has none: ErrDomainNotRunning). Reads
// return what the guest writes; writes are typed into the guest. Reads end
// with io.EOF when the guest stops; Close detaches.
//
// The console takes over any earlier session on the same console (a
// browser tab left open must not lock the user out), and runs on a
// connection of its own, so a console left open for hours never holds up
// other calls; Close ends it by disconnecting. ctx bounds only the
// opening, not the session.
//
// Output the guest writes while no console is attached is lost.
func (m *Manager) OpenConsole(ctx context.Context, uri, name string) (io.ReadWriteCloser, error) {
	s, err := m.dedicatedSession(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("console of domain %s on %s: %w", name, uri, err)
	}
	dom, err := runCtx(ctx, func() (libvirt.Domain, error) {
		dom, err := s.l.DomainLookupByName(name)
		if err != nil {
			return dom, err
		}
		active, err := domainActive(s.l, dom)
		if err == nil && !active {
			err = ErrDomainNotRunning
		}
		return dom, err
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("console of domain %s on %s: %w", name, uri, err)
	}

	c := &console{closeSession: sync.OnceFunc(s.close), l: s.l, done: make(chan struct{})}
	c.inR, c.inW = io.Pipe()
	c.outR, c.outW = io.Pipe()
	go c.run(dom)
	return c, nil
}

// console joins go-libvirt's blocking console stream to a ReadWriteCloser
// with two pipes: guest output flows from the stream into outW and out of
// Read; Write feeds inW, which the stream sends to the guest.
type console struct {
	l            *libvirt.Libvirt
	closeSession func() // closes the console's own connection, once
	inR, outR    *io.PipeReader
	inW, outW    *io.PipeWriter
	done         chan struct{} // closed when the stream has ended
	closeOnce    sync.Once
}

func (c *console) run(dom libvirt.Domain) {
	defer close(c.done)
	err := c.l.DomainOpenConsoleBidirectional(dom, nil, c.inR, c.outW, uint32(libvirt.DomainConsoleForce))
	if err == nil {
		err = io.EOF // libvirt ended the stream: the guest stopped
	}
	c.outW.CloseWithError(err)
	// go-libvirt's sender may still wait for input to send: end it.
	c.inR.CloseWithError(err)
	c.closeSession()
}

func (c *console) Read(p []byte) (int, error)  { return c.outR.Read(p) }
func (c *console) Write(p []byte) (int, error) { return c.inW.Write(p) }

// Close detaches from the console by closing its connection. The guest
// keeps running.
func (c *console) Close() error {
	c.closeOnce.Do(func() {
		c.outR.Close()
		c.inW.Close()
		c.closeSession()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			// Never seen: the stream ends once its socket is closed. Do
			// not let a caller's Close hang on it regardless.
		}
	})
	return nil
}
