package hypervisor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// TestReconnectAfterRestart stops the host under a Manager and starts it
// again on the same dir: a Ping made while the host is down must keep
// redialling and succeed once it is back.
func TestReconnectAfterRestart(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)

	if err := m.Ping(ctx, d.URI()); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}

	pinged := make(chan error, 1)
	go func() { pinged <- m.Ping(ctx, d.URI()) }()
	time.Sleep(500 * time.Millisecond) // let Ping fail a few dials first
	select {
	case err := <-pinged:
		t.Fatalf("Ping returned %v while the host was down", err)
	default:
	}

	start := time.Now()
	d2 := hvtest.StartIn(t, d.Dir())
	if err := <-pinged; err != nil {
		t.Fatalf("Ping after restart: %v", err)
	}
	t.Logf("Ping succeeded %s after the restart began", time.Since(start).Round(time.Millisecond))
	if _, err := m.Inventory(ctx, d2.URI()); err != nil {
		t.Fatal(err)
	}
}

func TestPingGivesUpWithContext(t *testing.T) {
	t.Parallel()
	m := newManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := m.Ping(ctx, "qemu+unix:///system?socket=/nonexistent/libvirt-sock")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Ping took %s with a 300ms context", took)
	}
}

func TestUnsupportedURI(t *testing.T) {
	t.Parallel()
	m := newManager(t)
	ctx := testContext(t)
	for _, uri := range []string{"xen:///system", "qemu+ssh://host/system", "lxc:///"} {
		err := m.Ping(ctx, uri)
		if err == nil || !strings.Contains(err.Error(), "unsupported") {
			t.Errorf("Ping(%q) = %v, want an unsupported-URI error", uri, err)
		}
		if _, err := m.Inventory(ctx, uri); err == nil {
			t.Errorf("Inventory(%q) succeeded", uri)
		}
	}
}

func TestClosedManager(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	if err := m.Ping(ctx, d.URI()); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Ping(ctx, d.URI()); !errors.Is(err, hypervisor.ErrClosed) {
		t.Errorf("Ping after Close = %v, want ErrClosed", err)
	}
}

// TestConcurrentCalls shares one connection between many goroutines.
func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	errs := make(chan error, 20)
	for range cap(errs) {
		go func() {
			_, err := m.Inventory(ctx, d.URI())
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
