package hypervisor

import (
	"context"
	"fmt"
)

// dedicatedSession opens a connection of its own to the host at uri, not
// shared with other calls and not cached: the caller closes it. Long-lived
// streams (consoles, uploads) use one, because go-libvirt streams take no
// context and can only be ended by disconnecting: on the shared connection
// that would break every other caller's calls too.
func (m *Manager) dedicatedSession(ctx context.Context, uri string) (*session, error) {
	h, err := m.host(uri)
	if err != nil {
		return nil, err
	}
	s, err := m.dialWithBackoff(ctx, h)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// runStream runs fn, which blocks on a stream, on a dedicated connection.
// If ctx ends first, the connection is closed, which makes fn return, and
// runStream returns ctx's error. fn runs once: a broken stream cannot be
// resumed, so it is never retried here.
func (m *Manager) runStream(ctx context.Context, uri string, fn func(s *session) error) error {
	s, err := m.dedicatedSession(ctx, uri)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn(s) }()
	select {
	case err := <-done:
		s.close()
		return err
	case <-ctx.Done():
		s.close()
		<-done // fn ends once its connection is gone
		return fmt.Errorf("aborted: %w", ctx.Err())
	}
}
