package jobs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
)

// ImageImportWorker streams an uploaded image file into its host's pool,
// records the image as ready with the virtual size libvirt reads from it,
// and removes the file. UploadVolume replaces a half-written volume of an
// earlier attempt, so retries start clean.
type ImageImportWorker struct {
	river.WorkerDefaults[jobargs.ImageImport]
	images *compute.Images
	hv     VMHypervisor
	// uploadDir, when set, is the only directory imports may read from: a
	// job must not be able to copy an arbitrary host file into a pool.
	uploadDir string
	logger    *slog.Logger
}

// Timeout grows with the file: a minute plus what 20 MB/s needs. River's
// rescuer honours it too, so a long import is never handed to a second
// worker while the first still streams.
func (w *ImageImportWorker) Timeout(job *river.Job[jobargs.ImageImport]) time.Duration {
	d := time.Minute
	if fi, err := os.Stat(job.Args.Path); err == nil {
		d += time.Duration(fi.Size()/(20<<20)) * time.Second
	}
	return d
}

func (w *ImageImportWorker) Work(ctx context.Context, job *river.Job[jobargs.ImageImport]) error {
	view, err := w.images.ForImport(ctx, job.Args.ImageID)
	if models.IsNotFound(err) {
		w.remove(job.Args.Path)
		return river.JobCancel(fmt.Errorf("image %s no longer exists", job.Args.ImageID))
	}
	if err != nil {
		return err
	}
	img := view.Image
	switch img.Status {
	case compute.ImageReady:
		// Recorded by an earlier attempt that crashed before removing the
		// file or completing the job.
		w.remove(job.Args.Path)
		return nil
	case compute.ImageFailed:
		w.remove(job.Args.Path)
		return river.JobCancel(fmt.Errorf("image %s has failed already", img.ID))
	}
	err = w.importFile(ctx, view, job.Args.Path)
	if err == nil {
		return nil
	}
	if !isPermanent(err) && job.Attempt < job.MaxAttempts {
		w.logger.Warn("image import failed; River retries it", "image", img.ID, "attempt", job.Attempt, "err", err)
		return err
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if ferr := w.images.MarkFailed(fctx, img.ID, readable("importing the image", err)); ferr != nil {
		return errors.Join(err, ferr)
	}
	w.logger.Error("image import gave up", "image", img.ID, "attempt", job.Attempt, "err", err)
	w.remove(job.Args.Path)
	return river.JobCancel(err)
}

func (w *ImageImportWorker) importFile(ctx context.Context, view *compute.ImageImportView, path string) error {
	if !w.inUploadDir(path) {
		return permanent("the uploaded file %s is outside the upload directory", path)
	}
	if err := importImage(ctx, w.hv, w.images, view, path); err != nil {
		return err
	}
	w.remove(path)
	return nil
}

// importImage streams the file at path into the image's volume, reads the
// virtual size libvirt sees and records the image as ready: the one way a
// file becomes an image, for uploads and for the starter images alike.
// Errors that a retry cannot mend are permanent (isPermanent).
func importImage(ctx context.Context, hv VMHypervisor, images *compute.Images, view *compute.ImageImportView, path string) error {
	img := view.Image
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return permanent("the image file is gone")
	}
	if err != nil {
		return fmt.Errorf("open image file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat image file: %w", err)
	}
	if fi.Size() == 0 {
		return permanent("the image file is empty")
	}
	if err := hv.UploadVolume(ctx, view.HostURI, img.Pool, img.Volume, img.Format, uint64(fi.Size()), f); err != nil {
		if strings.Contains(err.Error(), "names a backing file") {
			return permanentError{err}
		}
		return err
	}
	info, err := hv.VolumeInfo(ctx, view.HostURI, img.Pool, img.Volume)
	if err != nil {
		return err
	}
	return images.MarkReady(ctx, img.ID, int64(info.CapacityBytes))
}

func (w *ImageImportWorker) inUploadDir(path string) bool {
	if w.uploadDir == "" {
		return true
	}
	rel, err := filepath.Rel(w.uploadDir, filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// remove deletes the spooled upload (never a file outside the upload
// directory); a leftover only costs disk space, so failing to remove it is
// logged, not retried.
func (w *ImageImportWorker) remove(path string) {
	if !w.inUploadDir(path) {
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.logger.Warn("could not remove an imported upload", "path", path, "err", err)
	}
}
