// Command vmbench measures how long a VM takes from the member's create
// request to a running domain, against the same libvirt work done directly,
// in the same run, on the same private libvirtd (TCG):
//
//	go run ./e2e/vmbench [-n 20] [-workers 4] [-strict]
//
// Sequentially, n times, alternating so that drift hits both alike:
//   - portal: POST /api/v1/vms (member's token) until libvirt reports the
//     domain running; the job does disk clone, seed ISO, define, start;
//   - raw: the same hypervisor calls (CreateDiskVolume, BuildSeedISO +
//     UploadSeed, DefineDomain, StartDomain) straight from this program,
//     until libvirt reports running; and the define+start part alone.
//
// Both paths watch the domain's state by polling libvirt every 5 ms. The
// portal's overhead is the difference of the medians; the target (from the
// issue) is ≤ 150 ms. Then n creates are sent at once and must all succeed.
// Job pickup is the task's created → started time from the database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"allmende/e2e/crash"
	"allmende/hypervisor"
	"allmende/models/compute"
	"allmende/web"
)

const maxOverhead = 150 * time.Millisecond

func main() {
	n := flag.Int("n", 20, "VMs per phase")
	workers := flag.Int("workers", 4, "portal worker pool size (serve's default is 4)")
	strict := flag.Bool("strict", false, "exit with status 1 when the target is missed or a create fails")
	flag.Parse()
	met, err := run(*n, *workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmbench:", err)
		os.Exit(1)
	}
	if *strict && !met {
		os.Exit(1)
	}
}

func run(n, workers int) (bool, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "almvb")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	// Runs after the portal's shutdown, which leaves its private libvirtd
	// running (as it must for guests).
	defer hypervisor.StopDaemon(web.LibvirtDir(dir), slog.New(slog.DiscardHandler))
	// QEMU (user libvirt-qemu) must traverse the data dir to the pool.
	if err := os.Chmod(dir, 0o711); err != nil {
		return false, err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"), Libvirt: "auto", Workers: workers}
	srv, err := web.New(ctx, cfg, logger)
	if err != nil {
		return false, fmt.Errorf("start portal: %w", err)
	}
	defer srv.Shutdown(context.WithoutCancel(ctx))
	addr, err := srv.Start(ctx)
	if err != nil {
		return false, fmt.Errorf("start portal: %w", err)
	}
	base := "http://" + addr
	f, err := crash.Setup(ctx, cfg.Database, dir, logger)
	if err != nil {
		return false, fmt.Errorf("set up: %w", err)
	}
	defer f.Close()
	hv := hypervisor.NewManager(logger)
	defer hv.Close()
	uri := f.Host.URI

	var raw, rawDefStart, portal, pickup []time.Duration
	for i := range n {
		full, ds, err := rawCreate(ctx, hv, f, i)
		if err != nil {
			return false, fmt.Errorf("raw create %d: %w", i, err)
		}
		raw, rawDefStart = append(raw, full), append(rawDefStart, ds)
		d, taskID, err := portalCreate(ctx, hv, f, base, uri, fmt.Sprintf("seq-%d", i))
		if err != nil {
			return false, fmt.Errorf("portal create %d: %w", i, err)
		}
		portal = append(portal, d)
		t, err := f.WaitTask(ctx, taskID, time.Minute)
		if err != nil {
			return false, err
		}
		if t.Status != compute.TaskSucceeded {
			return false, fmt.Errorf("create task %s: %s", t.Status, t.Error)
		}
		pickup = append(pickup, t.StartedAt.Sub(t.CreatedAt))
	}

	// All at once.
	began := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conc []time.Duration
	var failures []error
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, taskID, err := portalCreate(ctx, hv, f, base, uri, fmt.Sprintf("par-%d", i))
			if err == nil {
				var t *compute.TaskDetail
				if t, err = f.WaitTask(ctx, taskID, 2*time.Minute); err == nil && t.Status != compute.TaskSucceeded {
					err = fmt.Errorf("task %s: %s", t.Status, t.Error)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, fmt.Errorf("par-%d: %w", i, err))
				return
			}
			conc = append(conc, d)
		}()
	}
	wg.Wait()
	wall := time.Since(began)

	over := median(portal) - median(raw)
	met := over <= maxOverhead && len(failures) == 0
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "measure\tn\tp50\tp95\t\n")
	row := func(name string, d []time.Duration) {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t\n", name, len(d), ms(median(d)), ms(pct(d, 95)))
	}
	row("raw libvirt: disk+seed+define+start → running", raw)
	row("raw libvirt: define+start → running", rawDefStart)
	row("portal: POST /api/v1/vms → running", portal)
	row("job pickup: task created → started", pickup)
	row(fmt.Sprintf("portal, %d at once: POST → running", n), conc)
	w.Flush()
	fmt.Printf("\nportal overhead at p50: %s (target ≤ %s)\n", ms(over), ms(maxOverhead))
	fmt.Printf("%d concurrent creates: %d succeeded, %d failed, all done in %s\n", n, len(conc), len(failures), ms(wall))
	for _, e := range failures {
		fmt.Println("  ", e)
	}
	if met {
		fmt.Println("target met")
	} else {
		fmt.Println("target MISSED")
	}
	return met, nil
}

// rawCreate does the worker's libvirt calls directly. It returns the whole
// time and the define+start part.
func rawCreate(ctx context.Context, hv *hypervisor.Manager, f *crash.Fixture, i int) (full, defStart time.Duration, err error) {
	uri, pool := f.Host.URI, f.Image.Pool
	name := fmt.Sprintf("raw-%02d", i) // not allmende-: the reconciler would report it
	began := time.Now()
	if _, err := hv.CreateDiskVolume(ctx, uri, pool, name+"-disk", uint64(f.Small.DiskGiB)<<30,
		&hypervisor.VolumeRef{Pool: pool, Name: f.Image.Volume}); err != nil {
		return 0, 0, err
	}
	iso, err := hypervisor.BuildSeedISO(hypervisor.Seed{InstanceID: name, Hostname: name})
	if err != nil {
		return 0, 0, err
	}
	if err := hv.UploadSeed(ctx, uri, pool, name+"-seed", iso); err != nil {
		return 0, 0, err
	}
	ds := time.Now()
	spec := hypervisor.DomainSpec{Name: name, UUID: uuidFor(i), Type: "qemu", VCPUs: f.Small.VCPUs, MemoryMiB: f.Small.MemoryMiB,
		Disks: []hypervisor.DiskSpec{{Pool: pool, Volume: name + "-disk", Format: "qcow2"},
			{Pool: pool, Volume: name + "-seed", Device: "cdrom", Format: "raw"}}}
	if err := hv.DefineDomain(ctx, uri, spec); err != nil {
		return 0, 0, err
	}
	if err := hv.StartDomain(ctx, uri, name); err != nil {
		return 0, 0, err
	}
	if err := waitRunning(ctx, hv, uri, name); err != nil {
		return 0, 0, err
	}
	now := time.Now()
	return now.Sub(began), now.Sub(ds), nil
}

func uuidFor(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// portalCreate posts a create and waits for libvirt to run the domain.
func portalCreate(ctx context.Context, hv *hypervisor.Manager, f *crash.Fixture, base, uri, name string) (time.Duration, string, error) {
	began := time.Now()
	vmID, taskID, err := f.CreateVMAPI(ctx, base, name, f.Small)
	if err != nil {
		return 0, "", err
	}
	vm := compute.VM{ID: vmID}
	if err := waitRunning(ctx, hv, uri, vm.DomainName()); err != nil {
		return 0, taskID, err
	}
	return time.Since(began), taskID, nil
}

// waitRunning polls libvirt every 5 ms, the same for both paths.
func waitRunning(ctx context.Context, hv *hypervisor.Manager, uri, name string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := hv.DomainState(ctx, uri, name)
		if err != nil {
			return err
		}
		if st == hypervisor.StateRunning {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("domain " + name + " not running after 2 minutes (" + string(st) + ")")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func median(d []time.Duration) time.Duration { return pct(d, 50) }

// pct is the nearest-rank percentile.
func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
