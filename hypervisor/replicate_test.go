package hypervisor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
)

// TestReplicate replicates the disk of a running guest into a raw volume
// (on the same host: the path to another host differs only by URI): a full
// copy, an incremental one after a write, an interrupted run and its
// catch-up, and a corrupted replica found by the full comparison. The guest
// runs on throughout, never paused or restarted.
func TestReplicate(t *testing.T) {
	kernel, initrd := hvtest.Guest(t)
	d := hvtest.Start(t)
	m := newManager(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	uri := d.URI()
	for _, p := range []string{"disks", "replicas"} {
		if err := m.EnsureDirPool(ctx, uri, p, poolDir(d, p)); err != nil {
			t.Fatal(err)
		}
	}

	// A 512 MiB qcow2 v3 disk with 256 MiB of data, written before the
	// guest starts (the test guest has no shell to write with).
	const diskSize = 512 * mib
	disk, err := m.CreateDiskVolume(ctx, uri, "disks", "vm1-disk", diskSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	qemuIO(t, disk.Path, "write -P 0x11 0 128M", "write -P 0x22 256M 127M", "write -P 0x33 511M 1M")

	spec := hypervisor.DomainSpec{
		Name: "allmende-" + uuid.NewString(), UUID: uuid.NewString(), Type: "qemu",
		VCPUs: 1, MemoryMiB: hvtest.GuestMemoryMiB,
		Kernel: kernel, Initrd: initrd, Cmdline: hvtest.GuestCmdline,
		Disks: []hypervisor.DiskSpec{{Pool: "disks", Volume: "vm1-disk", Format: "qcow2"}},
	}
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
	out := &consoleLog{}
	go func() { _, _ = io.Copy(out, con) }()
	counterBefore := waitCounter(t, out, 0, 90*time.Second)
	qemu := qemuIn(t, d.Dir())

	target := hypervisor.ReplicaTarget{URI: uri, Pool: "replicas", Volume: "vm1-disk.replica"}
	req := func(from, to string) hypervisor.ReplicateRequest {
		return hypervisor.ReplicateRequest{
			SourceURI: uri, Domain: spec.Name, Disk: "vda", Target: target,
			FromCheckpoint: from, NewCheckpoint: to,
		}
	}
	cmp := hypervisor.CompareRequest{SourceURI: uri, Domain: spec.Name, Disk: "vda", Target: target}
	checkEqual := func(what string) {
		t.Helper()
		eq, diff, err := m.CompareReplica(ctx, cmp)
		if err != nil {
			t.Fatalf("%s: compare: %v", what, err)
		}
		if !eq {
			t.Fatalf("%s: replica differs from byte %d on", what, diff)
		}
	}
	checkpoints := func() string {
		t.Helper()
		cps, err := m.ListCheckpoints(ctx, uri, spec.Name)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cps {
			names = append(names, c.Name)
		}
		return strings.Join(names, " ")
	}

	// An incremental run from a checkpoint that does not exist asks for a
	// full copy.
	if _, err := m.Replicate(ctx, req("nosuch", "cp1")); !errors.Is(err, hypervisor.ErrNoCheckpoint) {
		t.Errorf("incremental from a missing checkpoint: %v, want ErrNoCheckpoint", err)
	}

	// (1) Full copy: only the data is sent, the replica stays sparse.
	full, err := m.Replicate(ctx, req("", "cp1"))
	if err != nil {
		t.Fatal(err)
	}
	const data = 256 * mib
	if !full.Full || !full.Verified || full.DiskBytes != diskSize || full.Checkpoint != "cp1" ||
		full.BytesSent < data || full.BytesSent > data+4*mib {
		t.Errorf("full copy: %+v, want about %d bytes sent of a %d-byte disk", full, data, diskSize)
	}
	t.Logf("full copy: %d MiB in %d extents, copy %s (%.0f MB/s), verify %s, run %s",
		full.BytesSent/mib, full.Extents, full.Copy.Round(time.Millisecond), mbps(full.BytesSent, full.Copy),
		full.Verify.Round(time.Millisecond), full.Duration.Round(time.Millisecond))
	logCopyReference(t, disk.Path)
	rep, err := m.VolumeInfo(ctx, uri, target.Pool, target.Volume)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "raw" || rep.CapacityBytes != diskSize || rep.AllocationBytes > data+8*mib {
		t.Errorf("replica: %+v, want raw, %d bytes, about %d allocated", rep, diskSize, data)
	}
	checkEqual("after the full copy")

	// (2) Incremental: a 64 KiB write in the running guest's disk is all
	// that is sent (the bitmap's granularity is 64 KiB).
	hmp(t, uri, spec.Name, `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x5a 100M 64k"`)
	inc, err := m.Replicate(ctx, req("cp1", "cp2"))
	if err != nil {
		t.Fatal(err)
	}
	if inc.Full || !inc.Verified || inc.BytesSent != 64<<10 || inc.Extents != 1 {
		t.Errorf("incremental: %+v, want 64 KiB in one extent", inc)
	}
	t.Logf("incremental: %d KiB in %d extents, copy %s, verify %s, run %s", inc.BytesSent>>10, inc.Extents,
		inc.Copy.Round(time.Millisecond), inc.Verify.Round(time.Millisecond), inc.Duration.Round(time.Millisecond))
	checkEqual("after the incremental copy")
	if got := checkpoints(); got != "cp1 cp2" {
		t.Errorf("checkpoints %q, want cp1 cp2", got)
	}
	if err := m.DeleteCheckpoint(ctx, uri, spec.Name, "cp1"); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteCheckpoint(ctx, uri, spec.Name, "cp1"); err != nil {
		t.Errorf("deleting a deleted checkpoint: %v", err)
	}

	// (4) Interrupted: a large change; while the run copies it, the guest
	// writes elsewhere and the run is cancelled after its first chunk.
	hmp(t, uri, spec.Name, `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x66 128M 64M"`)
	runCtx, stop := context.WithCancel(ctx)
	var once sync.Once
	restore := hypervisor.SetReplicateChunkHook(func(uint64) {
		once.Do(func() {
			if _, err := hmpErr(uri, spec.Name, `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x77 400M 64k"`); err != nil {
				t.Errorf("write during the run: %v", err)
			}
			stop()
		})
	})
	_, err = m.Replicate(runCtx, req("cp2", "cp3"))
	restore()
	stop()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	t.Logf("interrupted run: %v", err)
	if got := checkpoints(); got != "cp2" {
		t.Errorf("checkpoints after the interrupted run: %q, want just cp2", got)
	}
	if eq, _, err := m.CompareReplica(ctx, cmp); err != nil || eq {
		t.Errorf("replica after the interrupted run: equal %v, %v; want different (not caught up yet)", eq, err)
	}
	retry, err := m.Replicate(ctx, req("cp2", "cp3"))
	if err != nil {
		t.Fatal(err)
	}
	if retry.BytesSent != 64*mib+64<<10 || retry.Extents != 2 {
		t.Errorf("catch-up run: %+v, want 64 MiB + 64 KiB in two extents", retry)
	}
	t.Logf("catch-up run: %d KiB in %d extents, copy %s (%.0f MB/s), run %s", retry.BytesSent>>10, retry.Extents,
		retry.Copy.Round(time.Millisecond), mbps(retry.BytesSent, retry.Copy), retry.Duration.Round(time.Millisecond))
	checkEqual("after the catch-up run")
	if err := m.DeleteCheckpoint(ctx, uri, spec.Name, "cp2"); err != nil {
		t.Fatal(err)
	}

	// (5) A corrupted replica: the full comparison finds the first bad
	// byte; an incremental run (nothing changed) cannot know, a run with
	// CompareFull fails, a full copy repairs it.
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte{0xee}, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	const bad = 300*mib + 12345
	virsh(t, uri, "vol-upload", "--pool", target.Pool, target.Volume, garbage, "--offset", fmt.Sprint(bad), "--length", "4096")
	eq, diff, err := m.CompareReplica(ctx, cmp)
	if err != nil || eq || diff != bad {
		t.Errorf("corrupted replica: equal %v, first difference %d, %v; want different at %d", eq, diff, err, bad)
	}
	strict := req("cp3", "cp4")
	strict.CompareFull = true
	if _, err := m.Replicate(ctx, strict); err == nil || !strings.Contains(err.Error(), fmt.Sprint(bad)) {
		t.Errorf("incremental run with full comparison over a corrupted replica: %v, want the difference at %d", err, bad)
	}
	if got := checkpoints(); got != "cp3" {
		t.Errorf("checkpoints after the failed comparison: %q, want just cp3", got)
	}
	again := req("", "cp4")
	again.CompareFull = true
	res, err := m.Replicate(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Compared || !res.Verified {
		t.Errorf("full copy with comparison: %+v", res)
	}
	checkEqual("after the repairing full copy")

	// No job is left behind, nor its scratch file.
	files, err := os.ReadDir(poolDir(d, "disks"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name() != "vm1-disk" {
		var names []string
		for _, f := range files {
			names = append(names, f.Name())
		}
		t.Errorf("files in the disk pool after the runs: %v, want just vm1-disk", names)
	}

	// (3) The guest ran on throughout: same QEMU, still counting.
	if st, err := m.DomainState(ctx, uri, spec.Name); err != nil || st != hypervisor.StateRunning {
		t.Errorf("guest state %v, %v; want running", st, err)
	}
	if now := qemuIn(t, d.Dir()); len(now) != 1 || now[0] != qemu[0] {
		t.Errorf("QEMU processes %v, want %v throughout", now, qemu)
	}
	counterAfter := waitCounter(t, out, counterBefore+1, 30*time.Second)
	t.Logf("guest counter %d before the runs, %d after", counterBefore, counterAfter)
}

// consoleLog collects console output.
type consoleLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *consoleLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// waitCounter waits until the guest's counter reaches at least n.
func waitCounter(t *testing.T, out *consoleLog, n int, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if c, ok := hvtest.GuestCounter(out.String()); ok && c >= n {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("guest counter did not reach %d within %s; console:\n%s", n, d, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// qemuIO runs qemu-io commands on an image that no guest uses.
func qemuIO(t *testing.T, path string, cmds ...string) {
	t.Helper()
	args := []string{"-f", "qcow2"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	if out, err := exec.Command("qemu-io", append(args, path)...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io %v: %v\n%s", cmds, err, out)
	}
}

// hmp runs a human monitor command in the guest's QEMU: the way to change
// a running guest's disk from outside.
func hmp(t *testing.T, uri, domain, cmd string) {
	t.Helper()
	out, err := hmpErr(uri, domain, cmd)
	t.Logf("hmp %s: %q", cmd, out)
	if err != nil {
		t.Fatal(err)
	} else if lo := strings.ToLower(out); strings.Contains(lo, "error") || strings.Contains(lo, "failed") {
		t.Fatalf("hmp %s: %s", cmd, out)
	}
}

func hmpErr(uri, domain, cmd string) (string, error) {
	out, err := exec.Command("virsh", "-c", uri, "qemu-monitor-command", domain, "--hmp", cmd).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("hmp %s: %v: %s", cmd, err, out)
	}
	return string(out), nil
}

// logCopyReference times cp --sparse=always of the disk file, for
// comparison with the replication's throughput.
func logCopyReference(t *testing.T, path string) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	start := time.Now()
	if out, err := exec.Command("cp", "--sparse=always", path, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	took := time.Since(start)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reference: cp --sparse=always of the %d MiB disk file: %s (%.0f MB/s)",
		fi.Size()/mib, took.Round(time.Millisecond), mbps(uint64(fi.Size()), took))
}

func mbps(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / 1e6 / d.Seconds()
}
