package compute

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/internal/kit"
)

// The first-run path: a plan and a small ready image, so that a fresh
// install gets to a running VM without the admins finding a kernel, an
// initrd and a disk first. The images are the starter guest of package
// starter (Debian's kernel, a busybox initramfs, an empty raw disk), which
// the starter.build job builds and imports into the host's pool.
const (
	StarterPlanName  = "starter"
	StarterImageName = "Starter (busybox)" // the disk image members choose
	StarterPool      = "default"
	// StarterCmdline boots the guest with its console on the serial port;
	// it is starter.GuestCmdline (the domain does not import the builder).
	StarterCmdline = "console=ttyS0 panic=-1"
	// The starter plan: busybox guests need 128 MiB of memory.
	starterVCPUs     = 1
	starterMemoryMiB = 128
	starterDiskGiB   = 1
	// starterBuildAttempts bounds the build job's tries; a missing network
	// or apt lists rarely fix themselves, and the admin can start again.
	starterBuildAttempts = 3
)

// StarterKernelName and StarterInitrdName name the images the starter disk
// boots.
var (
	StarterKernelName = StarterImageName + " kernel"
	StarterInitrdName = StarterImageName + " initrd"
)

// StarterSet is the starter plan and images as they stand; a nil member
// does not exist (yet).
type StarterSet struct {
	Plan                 *Plan
	Kernel, Initrd, Disk *Image
	HostURI              string // for the build job
	Changed              bool   // Create made or restarted something
}

// Images lists the starter images in the order they are imported.
func (s *StarterSet) Images() []*Image { return []*Image{s.Kernel, s.Initrd, s.Disk} }

// Ready reports whether the plan exists and all three images are ready.
func (s *StarterSet) Ready() bool {
	if s.Plan == nil {
		return false
	}
	for _, img := range s.Images() {
		if img == nil || img.Status != ImageReady {
			return false
		}
	}
	return true
}

// Failed reports whether an image failed to build or import.
func (s *StarterSet) Failed() bool {
	for _, img := range s.Images() {
		if img != nil && img.Status == ImageFailed {
			return true
		}
	}
	return false
}

// Started reports whether any starter image exists.
func (s *StarterSet) Started() bool { return s.Kernel != nil || s.Initrd != nil || s.Disk != nil }

// Starter creates and follows the first-run plan and images.
type Starter struct {
	db    *models.DB
	queue models.Queue
}

func NewStarter(db *models.DB, queue models.Queue) *Starter { return &Starter{db: db, queue: queue} }

// Create makes, where missing, the starter plan and the three starter
// images on the host (pending), and queues the starter.build job in the
// same transaction. It is idempotent: a second call finds everything and
// changes nothing, and failed images are set back to pending and built
// again.
func (s *Starter) Create(ctx context.Context, actor models.Actor, v models.Viewer, hostID string) (*StarterSet, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	var set *StarterSet
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		if set, err = s.createTx(ctx, tx, actor, hostID); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

func (s *Starter) createTx(ctx context.Context, tx *gorm.DB, actor models.Actor, hostID string) (*StarterSet, error) {
	var host Host
	if err := tx.Where("id = ?", hostID).Limit(1).Find(&host).Error; err != nil {
		return nil, fmt.Errorf("load host: %w", err)
	}
	if host.ID == "" {
		return nil, models.Invalid(map[string]string{"host_id": "Choose a host."})
	}
	set, err := loadStarter(tx, hostID)
	if err != nil {
		return nil, err
	}
	detail := map[string]any{"host_id": hostID}
	now := kit.UTCNow()
	if set.Plan == nil {
		set.Plan = &Plan{ID: kit.NewID(), Name: StarterPlanName, VCPUs: starterVCPUs, MemoryMiB: starterMemoryMiB,
			DiskGiB: starterDiskGiB, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(set.Plan).Error; err != nil {
			return nil, fmt.Errorf("insert starter plan: %w", err)
		}
		detail["plan_id"] = set.Plan.ID
		set.Changed = true
	}
	for _, im := range []struct {
		img  **Image
		name string
		kind ImageKind
	}{{&set.Kernel, StarterKernelName, ImageKernel}, {&set.Initrd, StarterInitrdName, ImageInitrd}, {&set.Disk, StarterImageName, ImageDisk}} {
		img := *im.img
		switch {
		case img == nil:
			id := kit.NewID()
			img = &Image{ID: id, Name: im.name, HostID: hostID, Pool: StarterPool, Volume: "allmende-image-" + id,
				Format: FormatRaw, Kind: im.kind, Status: ImagePending, CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(img).Error; err != nil {
				return nil, fmt.Errorf("insert starter image: %w", err)
			}
			*im.img = img
		case img.Status == ImageFailed:
			img.Status, img.Error, img.UpdatedAt = ImagePending, "", now
			if err := tx.Model(img).Updates(map[string]any{"status": img.Status, "error": "", "updated_at": now}).Error; err != nil {
				return nil, fmt.Errorf("restart starter image: %w", err)
			}
		default:
			continue
		}
		detail[string(im.kind)+"_image_id"] = img.ID
		set.Changed = true
	}
	// The disk boots the current kernel and initrd, also when one of them
	// was deleted and has just been made again.
	d := set.Disk
	if d.KernelVolume != set.Kernel.Volume || d.InitrdVolume != set.Initrd.Volume || d.KernelCmdline != StarterCmdline {
		d.KernelVolume, d.InitrdVolume, d.KernelCmdline = set.Kernel.Volume, set.Initrd.Volume, StarterCmdline
		if err := tx.Model(d).Updates(map[string]any{"kernel_volume": d.KernelVolume, "initrd_volume": d.InitrdVolume,
			"kernel_cmdline": d.KernelCmdline, "updated_at": now}).Error; err != nil {
			return nil, fmt.Errorf("starter disk's kernel boot: %w", err)
		}
	}
	if !set.Changed {
		return set, nil
	}
	if err := kit.RecordAudit(tx, actor, "starter.create", "host", hostID, detail); err != nil {
		return nil, err
	}
	// Only when something is pending: a ready set needs no build.
	for _, img := range set.Images() {
		if img.Status == ImagePending {
			_, err := kit.Enqueue(ctx, s.queue, tx, jobargs.StarterBuild{HostID: hostID}, &river.InsertOpts{MaxAttempts: starterBuildAttempts})
			return set, err
		}
	}
	return set, nil
}

// loadStarter reads the starter plan and the host's starter images (not
// retired).
func loadStarter(db *gorm.DB, hostID string) (*StarterSet, error) {
	set := &StarterSet{}
	var plans []Plan
	if err := db.Where("LOWER(name) = ? AND retired_at IS NULL", StarterPlanName).Limit(1).Find(&plans).Error; err != nil {
		return nil, fmt.Errorf("load starter plan: %w", err)
	}
	if len(plans) == 1 {
		set.Plan = &plans[0]
	}
	var imgs []Image
	err := db.Where("host_id = ? AND retired_at IS NULL AND LOWER(name) IN ?", hostID,
		[]string{lower(StarterKernelName), lower(StarterInitrdName), lower(StarterImageName)}).Find(&imgs).Error
	if err != nil {
		return nil, fmt.Errorf("load starter images: %w", err)
	}
	for i := range imgs {
		switch lower(imgs[i].Name) {
		case lower(StarterKernelName):
			set.Kernel = &imgs[i]
		case lower(StarterInitrdName):
			set.Initrd = &imgs[i]
		case lower(StarterImageName):
			set.Disk = &imgs[i]
		}
	}
	var h Host
	if err := db.Where("id = ?", hostID).Limit(1).Find(&h).Error; err != nil {
		return nil, fmt.Errorf("load host: %w", err)
	}
	set.HostURI = h.URI
	return set, nil
}

// Get returns the starter plan and the host's starter images; with hostID
// empty, those of the first host (by name) that has any, else of none.
func (s *Starter) Get(ctx context.Context, v models.Viewer, hostID string) (*StarterSet, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	db := s.db.Gorm.WithContext(ctx)
	if hostID == "" {
		var ids []string
		err := db.Model(&Image{}).Joins("JOIN hosts ON hosts.id = images.host_id").
			Where("images.retired_at IS NULL AND LOWER(images.name) = ?", lower(StarterImageName)).
			Order("hosts.name").Limit(1).Pluck("images.host_id", &ids).Error
		if err != nil {
			return nil, fmt.Errorf("find starter host: %w", err)
		}
		if len(ids) == 1 {
			hostID = ids[0]
		}
	}
	return loadStarter(db, hostID)
}

// FirstRunNeeded reports whether members could not create a VM yet for
// want of a plan or a ready disk image: the dashboard then points the
// admins to the getting-started page.
func (s *Starter) FirstRunNeeded(ctx context.Context) (bool, error) {
	db := s.db.Gorm.WithContext(ctx)
	var plans, disks int64
	if err := db.Model(&Plan{}).Where("retired_at IS NULL").Count(&plans).Error; err != nil {
		return false, fmt.Errorf("count plans: %w", err)
	}
	if err := db.Model(&Image{}).Where("retired_at IS NULL AND status = ? AND kind = ?", ImageReady, ImageDisk).Count(&disks).Error; err != nil {
		return false, fmt.Errorf("count images: %w", err)
	}
	return plans == 0 || disks == 0, nil
}

// ForBuild is what the build job needs: the host's starter images.
func (s *Starter) ForBuild(ctx context.Context, hostID string) (*StarterSet, error) {
	return loadStarter(s.db.Gorm.WithContext(ctx), hostID)
}

// NoteBuildError records why a try of the build failed on the images
// still pending, which stay pending: the job tries again.
func (s *Starter) NoteBuildError(ctx context.Context, hostID string, cause error) error {
	if cause == nil {
		cause = errors.New("unknown error")
	}
	err := s.db.Gorm.WithContext(ctx).Model(&Image{}).
		Where("host_id = ? AND status = ? AND retired_at IS NULL", hostID, ImagePending).
		Updates(map[string]any{"error": readableError(cause), "updated_at": kit.UTCNow()}).Error
	if err != nil {
		return fmt.Errorf("note starter build error: %w", err)
	}
	return nil
}

func lower(s string) string { return strings.ToLower(s) }
