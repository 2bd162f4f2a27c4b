// Command rpobench measures the sustained recovery point of replication
// (issue 10): -vms VMs on host a of a two-host rig (real libvirt, TCG),
// each written at -rate bytes a second, replicated to host b by the
// portal's own schedule and workers on a plan interval of -interval. Once
// every VM has its first good copy, the lag of each (now − the moment its
// last good copy holds: the data a failure of a would lose) is sampled
// every 2 s for -duration. Target (the issue): with 10 VMs writing about
// 1 MB/s each on a 30 s interval, the lag stays ≤ 60 s for 10 minutes.
//
//	go run ./e2e/rpobench [-vms 10] [-rate 1MiB] [-interval 30s] [-duration 10m] [-strict]
//
// The writes go into the running guests' disks through QEMU's monitor
// (qemu-io: the fixture's guest has no shell), 1 MiB at a time at a
// random offset, so each run of a VM copies what was written since its
// last one. Everything runs in a temp dir; the rig's hosts (and guests)
// are stopped at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"allmende/e2e/crash"
	"allmende/hypervisor"
	"allmende/models/compute"
	"allmende/models/replication"
	"allmende/web"
)

// maxLag is the target: twice the 30 s interval.
const maxLag = 60 * time.Second

const mib = 1 << 20

func main() {
	vms := flag.Int("vms", 10, "VMs writing and replicated")
	rate := flag.Int("rate", mib, "bytes written into each VM's disk per second (written 1 MiB at a time)")
	interval := flag.Duration("interval", 30*time.Second, "replication interval of the VMs' plan (30 s at least)")
	duration := flag.Duration("duration", 10*time.Minute, "how long the lag is sampled once every VM has a good copy")
	workers := flag.Int("workers", 4, "portal worker pool size (serve's default is 4)")
	strict := flag.Bool("strict", false, "exit with status 1 when the target is missed")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	met, err := run(ctx, *vms, *rate, *interval, *duration, *workers)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rpobench:", err)
		os.Exit(1)
	}
	if *strict && !met {
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "rpobench: "+format+"\n", args...)
}

func run(ctx context.Context, n, rate int, interval, duration time.Duration, workers int) (bool, error) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// A short path: libvirtd's sockets must fit in 107 bytes; QEMU (user
	// libvirt-qemu) must traverse it to the pools.
	dir, err := os.MkdirTemp("", "almrpo")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o711); err != nil {
		return false, err
	}
	defer func() {
		if err := hypervisor.StopRig(dir, logger); err != nil {
			logger.Warn("stop rig", "err", err)
		}
	}()
	base, err := freePortPair()
	if err != nil {
		return false, err
	}
	progress("starting hosts a and b and the portal")
	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"), Libvirt: "none", Workers: workers}
	srv, err := web.New(ctx, cfg, logger)
	if err != nil {
		return false, fmt.Errorf("start portal: %w", err)
	}
	defer srv.Shutdown(context.WithoutCancel(ctx))
	for i, name := range []string{"a", "b"} {
		d, err := hypervisor.StartRigHost(ctx, dir, name, hypervisor.RigHostOptions(i, base), logger)
		if err != nil {
			return false, err
		}
		if err := srv.RegisterHost(ctx, name, d.TCPURI()); err != nil {
			return false, err
		}
	}
	if _, err := srv.Start(ctx); err != nil {
		return false, fmt.Errorf("start portal: %w", err)
	}
	f, err := crash.SetupOn(ctx, cfg.Database, dir, "a", logger)
	if err != nil {
		return false, fmt.Errorf("set up: %w", err)
	}
	defer f.Close()
	hb, err := waitHost(ctx, f, "b")
	if err != nil {
		return false, err
	}
	if err := f.Hosts.SetVMSettings(ctx, f.Admin, f.AdminViewer, hb.ID, compute.HostVMSettings{
		CPUOvercommitPercent: 2000, MemoryOvercommitPercent: 100, DomainType: "qemu"}); err != nil {
		return false, err
	}
	secs := int64(interval / time.Second)
	if err := replication.New(f.DB, f.Queue, nil).SetPlanInterval(ctx, f.Admin, f.AdminViewer, f.Small.ID, &secs); err != nil {
		return false, fmt.Errorf("plan interval: %w", err)
	}

	progress("creating %d VMs on a", n)
	type guest struct{ id, domain string }
	var guests []guest
	var tasks []string
	for i := range n {
		vm, task, err := f.CreateVM(ctx, fmt.Sprintf("rpo-%02d", i), f.Small)
		if err != nil {
			return false, fmt.Errorf("create vm %d: %w", i, err)
		}
		guests = append(guests, guest{vm.ID, vm.DomainName()})
		tasks = append(tasks, task.ID)
	}
	for i, id := range tasks {
		d, err := f.WaitTask(ctx, id, 5*time.Minute)
		if err != nil {
			return false, err
		}
		if d.Status != compute.TaskSucceeded {
			return false, fmt.Errorf("create vm %d: %s: %s", i, d.Status, d.Task.Error)
		}
	}
	ids := make([]string, n)
	for i, g := range guests {
		ids[i] = g.id
	}

	progress("writing %d KiB/s into each guest's disk; waiting for every first copy", rate>>10)
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var werrs []error
	var wmu sync.Mutex
	for _, g := range guests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := write(wctx, f.Host.URI, g.domain, rate); err != nil && wctx.Err() == nil {
				wmu.Lock()
				werrs = append(werrs, err)
				wmu.Unlock()
			}
		}()
	}
	defer func() { stopWriters(); wg.Wait() }()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		// The fixture places VMs without replication's guard: the
		// schedule gives them their standby (AssignMissing) first.
		var reps []replication.Replica
		if err := f.DB.Gorm.Where("vm_id IN ?", ids).Find(&reps).Error; err != nil {
			return false, err
		}
		good := 0
		for _, r := range reps {
			if r.LastGoodAt != nil {
				good++
			}
		}
		if good == n {
			break
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("%d of %d VMs have a good copy after 10 minutes", good, n)
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return false, err
		}
	}

	progress("sampling the lag every 2 s for %s", duration)
	start := time.Now()
	var lags []time.Duration // every sample of every VM
	worst := map[string]time.Duration{}
	var perMinute []time.Duration // the largest lag seen in each minute: does it grow?
	loadStart := loadAverage()
	for time.Since(start) < duration {
		reps, err := replicas(f, ids)
		if err != nil {
			return false, err
		}
		now := time.Now()
		for _, r := range reps {
			lag := now.Sub(*r.LastGoodAt)
			lags = append(lags, lag)
			worst[r.VMID] = max(worst[r.VMID], lag)
			m := int(now.Sub(start) / time.Minute)
			for len(perMinute) <= m {
				perMinute = append(perMinute, 0)
			}
			perMinute[m] = max(perMinute[m], lag)
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return false, err
		}
	}
	took := time.Since(start)
	stopWriters()
	wg.Wait()
	if len(werrs) > 0 {
		return false, fmt.Errorf("writing into the guests: %w", errors.Join(werrs...))
	}

	var runs []replication.Run
	if err := f.DB.Gorm.Where("vm_id IN ? AND started_at >= ?", ids, start.UTC()).Find(&runs).Error; err != nil {
		return false, err
	}
	var failed int
	var sent int64
	var runTimes []time.Duration
	for _, r := range runs {
		if r.FinishedAt != nil && !r.Succeeded() {
			failed++
		}
		if r.Succeeded() {
			sent += r.BytesSent
			runTimes = append(runTimes, r.Duration())
		}
	}
	slices.Sort(lags)
	slices.Sort(runTimes)
	maxSeen := lags[len(lags)-1]
	met := maxSeen <= maxLag

	fmt.Printf("\n%d VMs on host a (TCG), each written %d KiB/s, replicated to host b every %s; lag sampled every 2 s for %s\n\n",
		n, rate>>10, interval, took.Round(time.Second))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "samples\t%d\t\n", len(lags))
	fmt.Fprintf(w, "lag p50 / p95 / max\t%s / %s / %s\t\n", pct(lags, 50), pct(lags, 95), maxSeen.Round(time.Second))
	var worstList []string
	for _, id := range ids {
		worstList = append(worstList, strconv.Itoa(int(worst[id].Seconds())))
	}
	fmt.Fprintf(w, "worst lag per VM (s)\t%s\t\n", strings.Join(worstList, " "))
	var minuteList []string
	for _, l := range perMinute {
		minuteList = append(minuteList, strconv.Itoa(int(l.Seconds())))
	}
	fmt.Fprintf(w, "worst lag per minute (s)\t%s\t\n", strings.Join(minuteList, " "))
	fmt.Fprintf(w, "load average (1 min) at start / end\t%s / %s\t\n", loadStart, loadAverage())
	fmt.Fprintf(w, "runs started in the window\t%d (%d failed)\t\n", len(runs), failed)
	if len(runTimes) > 0 {
		fmt.Fprintf(w, "good runs: time p50 / max\t%s / %s\t\n", pct(runTimes, 50), runTimes[len(runTimes)-1].Round(time.Millisecond))
	}
	fmt.Fprintf(w, "sent by good runs\t%.0f MiB (%.1f MB/s)\t\n", float64(sent)/mib, float64(sent)/1e6/took.Seconds())
	w.Flush()
	verdict := "met"
	if !met {
		verdict = "MISSED"
	}
	fmt.Printf("\ntarget: lag ≤ %s throughout: %s (max %s)\n", maxLag, verdict, maxSeen.Round(time.Second))
	if duration < 10*time.Minute {
		fmt.Printf("(sampled for %s; the issue asks for 10 minutes)\n", duration)
	}
	return met, nil
}

// write writes rate bytes a second into the running guest's disk, 1 MiB at
// a random offset at a time, through QEMU's monitor.
func write(ctx context.Context, uri, domain string, rate int) error {
	every := time.Duration(float64(time.Second) * mib / float64(rate))
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		off := rand.IntN(1023) * mib // the plan's disk is 1 GiB
		cmd := fmt.Sprintf(`qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x%02x %d %d"`, 0x20+i%0x50, off, mib)
		out, err := exec.CommandContext(ctx, "virsh", "-c", uri, "qemu-monitor-command", domain, "--hmp", cmd).CombinedOutput()
		if ctx.Err() != nil {
			return nil
		}
		if lo := strings.ToLower(string(out)); err != nil || strings.Contains(lo, "error") || strings.Contains(lo, "failed") {
			return fmt.Errorf("%s: hmp %s: %v: %s", domain, cmd, err, out)
		}
	}
}

// loadAverage is the machine's 1-minute load average: other work on the
// same CPUs slows every run, so it belongs next to the numbers.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func replicas(f *crash.Fixture, ids []string) ([]replication.Replica, error) {
	var reps []replication.Replica
	if err := f.DB.Gorm.Where("vm_id IN ?", ids).Find(&reps).Error; err != nil {
		return nil, fmt.Errorf("load replicas: %w", err)
	}
	if len(reps) != len(ids) {
		return nil, fmt.Errorf("%d of %d VMs have a replica host", len(reps), len(ids))
	}
	return reps, nil
}

// waitHost waits until the portal found host name reachable with a pool.
func waitHost(ctx context.Context, f *crash.Fixture, name string) (*compute.Host, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		list, err := f.Hosts.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, h := range list {
			if h.Name == name && h.Reachable && len(h.PoolList()) > 0 {
				return &h, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("host %s not reachable within a minute", name)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// freePortPair finds a port p with p+1 free too, for hosts a and b.
func freePortPair() (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		ln.Close()
		if err == nil {
			ln2.Close()
			return p, nil
		}
	}
	return 0, errors.New("no two free ports in a row")
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[(len(sorted)-1)*p/100].Round(time.Second)
}
