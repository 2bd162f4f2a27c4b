package hypervisor_test

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// TestThrottleInsideGuest measures, inside a real guest, the rate at which
// it writes to its disk (dd with O_DIRECT to /dev/vda, timed by the
// guest's own clock) before and after the disk is throttled: throttled it
// must fall to about the limit, and clearly below the unthrottled rate.
func TestThrottleInsideGuest(t *testing.T) {
	t.Parallel()
	files := hvtest.GuestFiles(t)
	d := hvtest.StartWith(t, hypervisor.DaemonOptions{CPUControl: true})
	m := newManager(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	uri := d.URI()
	if err := m.EnsureDirPool(ctx, uri, "vms", poolDir(d, "vms")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateDiskVolume(ctx, uri, "vms", "disk", 16*mib, nil); err != nil {
		t.Fatal(err)
	}
	spec := hypervisor.DomainSpec{Name: "allmende-" + uuid.NewString(), UUID: uuid.NewString(), Type: "qemu", VCPUs: 1,
		MemoryMiB: hvtest.GuestMemoryMiB, Kernel: files.Kernel, Initrd: files.Initrd, Cmdline: hvtest.GuestCmdline,
		Disks: []hypervisor.DiskSpec{{Pool: "vms", Volume: "disk", Format: "qcow2"}}}
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
	defer con.Close()
	out := newLines(con)
	if line, err := out.waitFor(hvtest.GuestMarker, 90*time.Second); err != nil {
		t.Fatalf("no %s from the guest: %v (last line %q)", hvtest.GuestMarker, err, line)
	}
	if _, err := io.WriteString(con, "sh\n"); err != nil {
		t.Fatal(err)
	}

	const limit = 1 << 20 // bytes per second
	free := guestWriteRate(t, con, out)
	if err := m.SetThrottle(ctx, uri, spec.Name, "vda", hypervisor.Throttle{DiskBytesSec: limit}); err != nil {
		t.Fatal(err)
	}
	throttled := guestWriteRate(t, con, out)
	t.Logf("write rate inside the guest: %.2f MiB/s unthrottled, %.2f MiB/s throttled to %.2f MiB/s",
		free/mib, throttled/mib, float64(limit)/mib)
	if throttled > 2*limit {
		t.Errorf("throttled to %d B/s the guest still writes %.0f B/s", limit, throttled)
	}
	if throttled < limit/4 {
		t.Errorf("throttled to %d B/s the guest writes only %.0f B/s: the measurement is off", limit, throttled)
	}
	if free < 2*throttled {
		t.Errorf("unthrottled %.0f B/s is not clearly above throttled %.0f B/s: did the guest write to its disk?", free, throttled)
	}
}

// ddResult is what guestWriteRate's command prints; the command line the
// tty echoes spells it with quotes inside, so only the answer matches.
var ddResult = regexp.MustCompile(`DDRESULT (\d+) ([0-9.]+) ([0-9.]+)`)

// guestWriteRate writes 8 MiB to the guest's disk from its shell and
// returns the rate in bytes per second, timed with the guest's
// /proc/uptime (10 ms resolution) around dd.
func guestWriteRate(t *testing.T, con io.Writer, out *lines) float64 {
	t.Helper()
	const count, bs = 128, 64 << 10
	cmd := fmt.Sprintf(`a=$(cut -d' ' -f1 /proc/uptime); test -b /dev/vda && dd if=/dev/zero of=/dev/vda bs=%d count=%d oflag=direct 2>/dev/null; r=$?; `+
		`b=$(cut -d' ' -f1 /proc/uptime); echo "DD""RESULT $r $a $b"`+"\n", bs, count)
	if _, err := io.WriteString(con, cmd); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		line, err := out.waitFor("DDRESULT", time.Until(deadline))
		if err != nil {
			t.Fatalf("no result from dd in the guest: %v (last line %q)", err, line)
		}
		m := ddResult.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if m[1] != "0" {
			t.Fatalf("dd to /dev/vda in the guest failed (exit %s; 1 also when /dev/vda is no block device: no disk driver?)", m[1])
		}
		start, _ := strconv.ParseFloat(m[2], 64)
		end, _ := strconv.ParseFloat(m[3], 64)
		secs := max(end-start, 0.01) // the clock's resolution
		return count * bs / secs
	}
}
