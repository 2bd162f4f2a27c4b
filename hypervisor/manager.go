package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// Backoff bounds for redialling a host.
const (
	firstRetryDelay = 100 * time.Millisecond
	maxRetryDelay   = 5 * time.Second
)

// Manager holds one libvirt connection per host URI and redials lost ones.
// It is safe for concurrent use.
type Manager struct {
	log              *slog.Logger
	dialBudget       time.Duration
	handshakeTimeout time.Duration

	mu     sync.Mutex
	hosts  map[string]*host
	closed bool
}

// Option configures a Manager.
type Option func(*Manager)

// WithDialBudget bounds how long one call keeps redialling an unreachable
// host (default 30 s), on top of the caller's context. Without it a caller
// with a context that never ends would retry forever.
func WithDialBudget(d time.Duration) Option {
	return func(m *Manager) { m.dialBudget = d }
}

// NewManager returns a Manager with no connections yet; hosts are dialled on
// first use.
func NewManager(log *slog.Logger, opts ...Option) *Manager {
	m := &Manager{
		log:              log,
		dialBudget:       30 * time.Second,
		handshakeTimeout: 10 * time.Second,
		hosts:            make(map[string]*host),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// host is the connection state of one URI.
type host struct {
	uri string
	ep  endpoint
	// dialing is a one-slot semaphore held while (re)dialling, so that
	// concurrent callers share one dial instead of racing; unlike a mutex,
	// waiting for it can be abandoned when the caller's context ends.
	dialing chan struct{}

	mu  sync.Mutex
	cur *session // nil when not connected
}

// Ping checks that the host answers an RPC, (re)connecting if necessary.
func (m *Manager) Ping(ctx context.Context, uri string) error {
	_, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		_, err := l.ConnectGetLibVersion()
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("ping %s: %w", uri, err)
	}
	return nil
}

// Close disconnects from every host. Calls made afterwards fail with ErrClosed.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	hosts := m.hosts
	m.hosts = map[string]*host{}
	m.mu.Unlock()

	for _, h := range hosts {
		h.mu.Lock()
		s := h.cur
		h.cur = nil
		h.mu.Unlock()
		if s != nil {
			s.close()
		}
	}
	return nil
}

// call runs fn on the host's connection. If fn fails because the connection
// broke, the connection is dropped, redialled and fn is run once more, so fn
// must be safe to repeat (reads, or idempotent changes such as EnsureDirPool).
//
// go-libvirt calls take no context: when ctx ends first, call returns
// ctx.Err() at once and leaves fn to finish in the background. It does not
// cut the shared connection, which other callers may be using.
func call[T any](ctx context.Context, m *Manager, uri string, fn func(*libvirt.Libvirt) (T, error)) (T, error) {
	var zero T
	h, err := m.host(uri)
	if err != nil {
		return zero, err
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		s, err := m.session(ctx, h)
		if err != nil {
			return zero, err
		}
		v, err := runCtx(ctx, func() (T, error) { return fn(s.l) })
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil || !isConnError(err, s) {
			return zero, err
		}
		m.log.Warn("libvirt connection broke during a call; redialling", "uri", uri, "err", err)
		h.drop(s)
		lastErr = err
	}
	return zero, fmt.Errorf("connection to %s lost twice: %w", uri, lastErr)
}

func runCtx[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1) // buffered: an abandoned fn must not block forever
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// host returns the state for uri, creating it on first use.
func (m *Manager) host(uri string) (*host, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if h, ok := m.hosts[uri]; ok {
		return h, nil
	}
	ep, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	h := &host{uri: uri, ep: ep, dialing: make(chan struct{}, 1)}
	m.hosts[uri] = h
	return h, nil
}

// session returns the host's live connection, dialling with exponential
// backoff if there is none.
func (m *Manager) session(ctx context.Context, h *host) (*session, error) {
	if s := h.live(); s != nil {
		return s, nil
	}
	select {
	case h.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to %s: %w", h.uri, ctx.Err())
	}
	defer func() { <-h.dialing }()

	// Someone else may have connected while we waited for the semaphore.
	if s := h.live(); s != nil {
		return s, nil
	}
	s, err := m.dialWithBackoff(ctx, h)
	if err != nil {
		return nil, err
	}

	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		s.close()
		return nil, ErrClosed
	}
	h.mu.Lock()
	h.cur = s
	h.mu.Unlock()
	go m.watch(h, s)
	return s, nil
}

func (m *Manager) dialWithBackoff(ctx context.Context, h *host) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, m.dialBudget)
	defer cancel()

	delay := firstRetryDelay
	for attempt := 1; ; attempt++ {
		s, err := dialSession(h.ep, m.handshakeTimeout)
		if err == nil {
			if attempt > 1 {
				m.log.Info("connected to libvirt", "uri", h.uri, "attempts", attempt)
			}
			return s, nil
		}
		m.log.Debug("dialling libvirt failed", "uri", h.uri, "attempt", attempt, "retry_in", delay, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to %s: gave up after %d attempts: %w (last error: %w)", h.uri, attempt, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(delay*2, maxRetryDelay)
	}
}

// watch drops the cached session as soon as go-libvirt notices the socket is
// gone, so the next call redials instead of failing first.
func (m *Manager) watch(h *host, s *session) {
	<-s.l.Disconnected()
	if h.drop(s) {
		m.log.Info("libvirt connection lost", "uri", h.uri)
	}
}

// live returns the cached session if it is still connected.
func (h *host) live() *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur != nil && !h.cur.l.IsConnected() {
		go h.cur.close()
		h.cur = nil
	}
	return h.cur
}

// drop forgets s if it is still the cached session and closes it. It reports
// whether s was still cached.
func (h *host) drop(s *session) bool {
	h.mu.Lock()
	cached := h.cur == s
	if cached {
		h.cur = nil
	}
	h.mu.Unlock()
	go s.close()
	return cached
}

// isConnError reports whether err means the connection itself is broken (as
// opposed to libvirt answering with an error, which proves it is alive).
func isConnError(err error, s *session) bool {
	var lerr libvirt.Error
	if errors.As(err, &lerr) {
		return false
	}
	return !s.l.IsConnected() ||
		errors.Is(err, libvirt.ErrInterrupted) ||
		errors.Is(err, syscall.EINVAL) || // go-libvirt's "socket already closed"
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed)
}
