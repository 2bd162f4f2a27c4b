package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"allmende/jobs/jobargs"
	"allmende/models/compute"
	"allmende/starter"
)

// StarterBuildWorker builds the starter guest (package starter: apt-get
// download of Debian's kernel, a busybox initramfs, an empty raw disk) into
// its cache and imports the files into the host's pool as the pending
// starter images, with importImage, as uploads are imported.
//
// Idempotent: the build reuses its cache, and images already ready are
// skipped. Kernel and initrd are imported before the disk, so the disk,
// the one image members see, is only offered once what it boots is there.
// A failed try notes its reason on the pending images (the images page
// shows it) and is retried; the last one marks them failed.
type StarterBuildWorker struct {
	river.WorkerDefaults[jobargs.StarterBuild]
	starter  *compute.Starter
	images   *compute.Images
	hv       VMHypervisor
	cacheDir string
	logger   *slog.Logger
}

// Timeout leaves room for the first download of the kernel package
// (about 60 MB) on a slow line.
func (w *StarterBuildWorker) Timeout(*river.Job[jobargs.StarterBuild]) time.Duration {
	return 20 * time.Minute
}

func (w *StarterBuildWorker) Work(ctx context.Context, job *river.Job[jobargs.StarterBuild]) error {
	set, err := w.starter.ForBuild(ctx, job.Args.HostID)
	if err != nil {
		return err
	}
	var todo []*compute.Image
	for _, img := range set.Images() {
		if img != nil && (img.Status == compute.ImagePending || img.Status == compute.ImageUploading) {
			todo = append(todo, img)
		}
	}
	if len(todo) == 0 {
		return nil // done by an earlier attempt, or failed, deleted
	}
	err = w.build(ctx, set.HostURI, todo)
	if err == nil {
		return nil
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	reason := readable("", err)
	if !isPermanent(err) && job.Attempt < job.MaxAttempts {
		w.logger.Warn("starter build failed; River retries it", "host", job.Args.HostID, "attempt", job.Attempt, "err", err)
		note := fmt.Errorf("try %d of %d failed, trying again: %w", job.Attempt, job.MaxAttempts, reason)
		return errors.Join(err, w.starter.NoteBuildError(fctx, job.Args.HostID, note))
	}
	w.logger.Error("starter build gave up", "host", job.Args.HostID, "attempt", job.Attempt, "err", err)
	for _, img := range todo {
		if ferr := w.images.MarkFailed(fctx, img.ID, reason); ferr != nil {
			return errors.Join(err, ferr)
		}
	}
	return river.JobCancel(err)
}

func (w *StarterBuildWorker) build(ctx context.Context, hostURI string, todo []*compute.Image) error {
	logf := func(format string, args ...any) { w.logger.Info(fmt.Sprintf(format, args...)) }
	files, err := starter.Build(ctx, w.cacheDir, logf)
	if err != nil {
		return err
	}
	for _, img := range todo {
		path := files.Disk
		switch img.Kind {
		case compute.ImageKernel:
			path = files.Kernel
		case compute.ImageInitrd:
			path = files.Initrd
		}
		view := &compute.ImageImportView{Image: *img, HostURI: hostURI}
		if err := importImage(ctx, w.hv, w.images, view, path); err != nil {
			return fmt.Errorf("importing %s: %w", img.Name, err)
		}
	}
	return nil
}
