package crash

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"allmende/hypervisor"
	"allmende/hypervisor/hvtest"
	"allmende/models/compute"
	"allmende/models/replication"
)

// startRigPortal runs `allmende dev two-hosts` on dir: hosts a and b (they
// outlive the portal) and the portal that knows them.
func startRigPortal(t *testing.T, dir string, basePort int) *portal {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dir, "portal.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p := &portal{t: t, dir: dir, log: logf, addr: freePort(t)}
	p.cmd = exec.Command(binary, "dev", "two-hosts", "--data", dir, "--listen", p.addr, "--workers", "4",
		"--base-port", strconv.Itoa(basePort))
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("portal did not come up; log:\n%s", p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePortPair finds a port p with p+1 free too, for hosts a and b.
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		ln.Close()
		if err == nil {
			ln2.Close()
			return p
		}
	}
	t.Fatal("no two free ports in a row")
	return 0
}

// fileSum is the SHA-256 of a file: the replica volume, read as stored.
func fileSum(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var s [sha256.Size]byte
	copy(s[:], h.Sum(nil))
	return s
}

// allocated is how many bytes a file takes on disk (0 if it is missing).
func allocated(path string) int64 {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}

// hmpWrite writes pattern into the running guest's disk through QEMU's
// monitor, in pieces of 64 MiB (qemu-io holds a whole write in memory).
func hmpWrite(t *testing.T, uri, domain string, pattern byte, off, length int64) {
	t.Helper()
	for o := off; o < off+length; o += 64 << 20 {
		n := min(64<<20, off+length-o)
		cmd := fmt.Sprintf(`qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x%02x %d %d"`, pattern, o, n)
		out, err := Virsh(uri, "qemu-monitor-command", domain, "--hmp", cmd)
		if lo := strings.ToLower(out); err != nil || strings.Contains(lo, "error") || strings.Contains(lo, "failed") {
			t.Fatalf("hmp %s: %v: %s", cmd, err, out)
		}
	}
}

// The portal is killed (SIGKILL) in the middle of a replication run, while
// the run sends data: the last good copy on the replica host stays
// byte-for-byte what it was and stays marked good (a failover could start
// from it), and after a restart the run's job takes the VM over at once,
// records the killed run as interrupted, and the next run brings the copy
// up to date.
func TestReplicationPortalKilledMidRun(t *testing.T) {
	hvtest.GuestFiles(t)
	dir, err := os.MkdirTemp("", "almr")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	log := hvtest.Logger(t)
	t.Cleanup(func() {
		if err := hypervisor.StopRig(dir, log); err != nil {
			t.Errorf("stop rig: %v", err)
		}
		os.RemoveAll(dir)
	})
	basePort := freePortPair(t)
	p := startRigPortal(t, dir, basePort)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	f, err := SetupOn(ctx, filepath.Join(dir, "allmende.db"), dir, "a", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("%v; log:\n%s", err, p.logTail())
	}
	t.Cleanup(func() { f.Close() })
	hb, err := waitReachable(ctx, f.Hosts, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Hosts.SetVMSettings(ctx, f.Admin, f.AdminViewer, hb.ID, compute.HostVMSettings{
		CPUOvercommitPercent: 2000, MemoryOvercommitPercent: 100, DomainType: "qemu"}); err != nil {
		t.Fatal(err)
	}
	vm, task, err := f.CreateVM(ctx, "replicated", f.Small)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := f.WaitTask(ctx, task.ID, 3*time.Minute); err != nil || d.Status != compute.TaskSucceeded {
		t.Fatalf("create: %v %+v; log:\n%s", err, d, p.logTail())
	}
	ua, ub := f.Host.URI, hb.URI
	dom := vm.DomainName()

	// The first good copy (a full one, written directly: nothing to keep).
	good := waitGoodRuns(t, f, vm.ID, 1, p)[0]
	var rep replication.Replica
	if err := f.DB.Gorm.Where("vm_id = ?", vm.ID).First(&rep).Error; err != nil {
		t.Fatal(err)
	}
	if rep.ReplicaHostID != hb.ID || rep.State != replication.StateGood {
		t.Fatalf("replica after the first run: %+v", rep)
	}
	hv := hypervisor.NewManager(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = hv.Close() })
	info, err := hv.VolumeInfo(ctx, ub, f.Image.Pool, vm.DiskVolume())
	if err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, info.Path)
	staging := filepath.Join(filepath.Dir(info.Path), replication.StagingVolume(vm))

	// Much new data, then the next run at once: it takes long enough to be
	// killed while it sends.
	const off, length = 256 << 20, 640 << 20
	hmpWrite(t, ua, dom, 0x5a, off, length)
	if err := f.DB.Gorm.Exec("UPDATE vm_replicas SET next_run_at = ? WHERE vm_id = ?", time.Now().UTC().Add(-time.Hour), vm.ID).Error; err != nil {
		t.Fatal(err)
	}
	var killed replication.Run
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if err := f.DB.Gorm.Where("vm_id = ? AND id <> ?", vm.ID, good.ID).Limit(1).Find(&killed).Error; err != nil {
			t.Fatal(err)
		}
		if killed.ID != "" && allocated(staging) > 64<<20 {
			break
		}
		if killed.FinishedAt != nil || time.Now().After(deadline) {
			t.Fatalf("no run caught sending (run %+v, staging %d bytes); log:\n%s", killed, allocated(staging), p.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := allocated(staging)
	p.kill()
	t.Logf("portal killed during run %s (%s), %d MiB of %d MiB staged", killed.ID, killed.Kind, sent>>20, length>>20)

	// The copy is the last good one, byte for byte, and marked so.
	if after := fileSum(t, info.Path); after != before {
		t.Fatalf("the replica changed while the killed run was sending")
	}
	if err := f.DB.Gorm.Where("vm_id = ?", vm.ID).First(&rep).Error; err != nil {
		t.Fatal(err)
	}
	if rep.State != replication.StateGood || rep.CopyDirty || rep.ApplyRunID != "" || rep.LastGoodAt == nil ||
		!rep.LastGoodAt.Equal(good.StartedAt) || rep.RunningRunID != killed.ID {
		t.Fatalf("replica after the kill: %+v (last good run %s at %s)", rep, good.ID, good.StartedAt)
	}

	// A new portal: the killed run's job comes back, takes the VM over and
	// copies again; the copy then holds the new data.
	p = startRigPortal(t, dir, basePort)
	runs := waitGoodRuns(t, f, vm.ID, 2, p)
	if err := f.DB.Gorm.Where("id = ?", killed.ID).First(&killed).Error; err != nil {
		t.Fatal(err)
	}
	if killed.FinishedAt == nil || killed.Succeeded() || !strings.Contains(killed.Error, "interrupted") {
		t.Fatalf("killed run: %+v", killed)
	}
	next := runs[0]
	if next.Kind != replication.RunIncremental || next.BytesSent < length || next.StartedAt.Before(*killed.FinishedAt) {
		t.Fatalf("run after the restart: %+v (killed %+v)", next, killed)
	}
	t.Logf("next run: %s, %d MiB in %s", next.Kind, next.BytesSent>>20, next.Duration())
	eq, diff, err := hv.CompareReplica(ctx, hypervisor.CompareRequest{SourceURI: ua, Domain: dom, Disk: "vda",
		Target: hypervisor.ReplicaTarget{URI: ub, Pool: f.Image.Pool, Volume: vm.DiskVolume()}})
	if err != nil || !eq {
		t.Fatalf("replica after the next run: equal %v (first difference at %d), %v", eq, diff, err)
	}
	if err := f.DB.Gorm.Where("vm_id = ?", vm.ID).First(&rep).Error; err != nil {
		t.Fatal(err)
	}
	if rep.State != replication.StateGood || rep.CopyDirty || !rep.LastGoodAt.Equal(next.StartedAt) || rep.RunningRunID != "" {
		t.Fatalf("replica after the next run: %+v", rep)
	}
}

// waitGoodRuns waits until the VM has n good runs and returns them, newest
// first.
func waitGoodRuns(t *testing.T, f *Fixture, vmID string, n int, p *portal) []replication.Run {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var runs []replication.Run
		if err := f.DB.Gorm.Where("vm_id = ? AND finished_at IS NOT NULL AND verified = ? AND error = ''", vmID, true).
			Order("started_at DESC, id DESC").Find(&runs).Error; err != nil {
			t.Fatal(err)
		}
		if len(runs) >= n {
			return runs
		}
		if time.Now().After(deadline) {
			var all []replication.Run
			f.DB.Gorm.Where("vm_id = ?", vmID).Find(&all)
			t.Fatalf("%d of %d good runs within 5 minutes: %+v; log:\n%s", len(runs), n, all, p.logTail())
		}
		time.Sleep(250 * time.Millisecond)
	}
}
