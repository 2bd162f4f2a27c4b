package hypervisor_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// TestGuestConsole boots a real Linux guest (TCG, direct kernel boot) and
// talks to it over its serial console: it must announce itself, echo a
// line, survive a second console taking over, and power off on request.
func TestGuestConsole(t *testing.T) {
	t.Parallel()
	kernel, initrd := hvtest.Guest(t)
	d := hvtest.Start(t)
	m := newManager(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	uri := d.URI()

	spec := hypervisor.DomainSpec{
		Name:      "allmende-" + uuid.NewString(),
		UUID:      uuid.NewString(),
		Type:      "qemu",
		VCPUs:     1,
		MemoryMiB: hvtest.GuestMemoryMiB,
		Kernel:    kernel,
		Initrd:    initrd,
		Cmdline:   hvtest.GuestCmdline,
	}
	if err := m.DefineDomain(ctx, uri, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenConsole(ctx, uri, spec.Name); !errors.Is(err, hypervisor.ErrDomainNotRunning) {
		t.Errorf("console of a stopped domain: %v, want ErrDomainNotRunning", err)
	}
	if err := m.StartDomain(ctx, uri, spec.Name); err != nil {
		t.Fatal(err)
	}
	started := time.Now()

	con, err := m.OpenConsole(ctx, uri, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer con.Close()
	out := newLines(con)
	if line, err := out.waitFor(hvtest.GuestMarker, 60*time.Second); err != nil {
		t.Fatalf("no %s from the guest: %v (last line %q)", hvtest.GuestMarker, err, line)
	}
	t.Logf("guest up on the console %s after start", time.Since(started).Round(100*time.Millisecond))

	if _, err := io.WriteString(con, "hello\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := out.waitFor(hvtest.GuestEchoPrefix+"hello", 20*time.Second); err != nil {
		t.Fatalf("no echo of hello: %v", err)
	}

	// A second console takes over (a stale browser tab must not lock the
	// user out); the first one ends.
	con2, err := m.OpenConsole(ctx, uri, spec.Name)
	if err != nil {
		t.Fatalf("second console: %v", err)
	}
	defer con2.Close()
	if _, err := out.waitFor("never printed", 20*time.Second); err == nil || err == errTimeout {
		t.Errorf("first console still open after the second took over: %v", err)
	}
	out2 := newLines(con2)
	if _, err := io.WriteString(con2, "again\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := out2.waitFor(hvtest.GuestEchoPrefix+"again", 20*time.Second); err != nil {
		t.Fatalf("no echo on the second console: %v", err)
	}

	// The guest powers off; the console ends and the domain is shut off.
	if _, err := io.WriteString(con2, "poweroff\n"); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitState(ctx, uri, spec.Name, hypervisor.StateShutoff, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := out2.waitFor("never printed", 20*time.Second); err == errTimeout {
		t.Error("console still open after the guest powered off")
	}
	if err := con2.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := m.UndefineDomain(ctx, uri, spec.Name); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleClose checks that closing a console ends a pending Read and
// leaves the guest (and the Manager's shared connection) alone.
func TestConsoleClose(t *testing.T) {
	t.Parallel()
	d := hvtest.Start(t)
	m := newManager(t)
	ctx := testContext(t)
	uri := d.URI()
	spec := hypervisor.DomainSpec{Name: "allmende-quiet", UUID: uuid.NewString(), Type: "qemu", VCPUs: 1, MemoryMiB: 32}
	if err := m.DefineDomain(ctx, uri, spec); err != nil {
		t.Fatal(err)
	}
	if err := m.StartDomain(ctx, uri, spec.Name); err != nil {
		t.Fatal(err)
	}
	con, err := m.OpenConsole(ctx, uri, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, con) // firmware without an OS: little or no output
		read <- err
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := con.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked 10 s after Close")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close took %s", took)
	}
	if st, err := m.DomainState(ctx, uri, spec.Name); err != nil || st != hypervisor.StateRunning {
		t.Errorf("after closing the console: %v, %v; want running", st, err)
	}

	// WaitState gives up with the context and says where the domain is.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err = m.WaitState(short, uri, spec.Name, hypervisor.StateShutoff, 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still running") {
		t.Errorf("WaitState for a state never reached: %v", err)
	}
}

// lines reads a console line by line in the background.
type lines struct {
	ch  chan string
	err error // why reading ended; set before ch is closed
}

func newLines(r io.Reader) *lines {
	l := &lines{ch: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.ch <- strings.TrimRight(sc.Text(), "\r")
		}
		err := sc.Err()
		if err == nil {
			err = io.EOF
		}
		l.err = err
		close(l.ch)
	}()
	return l
}

type timeoutError struct{}

func (timeoutError) Error() string { return "timed out" }

var errTimeout error = timeoutError{}

// waitFor returns the first line containing s. It fails with errTimeout
// after d, or with the reader's error if the console ends first.
func (l *lines) waitFor(s string, d time.Duration) (string, error) {
	timeout := time.After(d)
	last := ""
	for {
		select {
		case line, ok := <-l.ch:
			if !ok {
				return last, l.err
			}
			last = line
			if strings.Contains(line, s) {
				return line, nil
			}
		case <-timeout:
			return last, errTimeout
		}
	}
}
