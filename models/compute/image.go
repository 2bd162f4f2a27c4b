package compute

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/internal/kit"
)

// ImageStatus is where an image stands.
type ImageStatus string

const (
	ImagePending   ImageStatus = "pending"   // the starter.build job makes and imports it
	ImageUploading ImageStatus = "uploading" // the import job is copying it into the pool
	ImageReady     ImageStatus = "ready"
	ImageFailed    ImageStatus = "failed"
)

// ImageKind is what an image is for.
type ImageKind string

const (
	ImageDisk   ImageKind = "disk"   // a base volume VM disks are made from
	ImageKernel ImageKind = "kernel" // a kernel that disk images boot directly
	ImageInitrd ImageKind = "initrd" // an initrd for such a kernel
)

// Image formats a base volume may have.
const (
	FormatQCOW2 = "qcow2"
	FormatRaw   = "raw"
)

// Image is a base volume in a storage pool of one host that VM disks are
// made from. Copies on other hosts are separate images of the same name.
type Image struct {
	ID               string
	Name             string
	HostID           string
	Pool             string
	Volume           string
	Format           string
	Kind             ImageKind `gorm:"default:disk"` // only disks are offered to members
	VirtualSizeBytes int64
	// Direct kernel boot, optional: VMs made from the image boot this
	// kernel (with the initrd and command line) instead of the disk's boot
	// loader. The volumes are in Pool; empty means boot from the disk.
	KernelVolume  string
	InitrdVolume  string
	KernelCmdline string
	Status        ImageStatus
	Error         string // why the import failed
	RetiredAt     *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ImageInput registers an image from a volume that already exists.
type ImageInput struct {
	Name             string
	HostID           string
	Pool             string
	Volume           string
	Format           string
	VirtualSizeBytes int64
	// Optional direct kernel boot (see Image); the volumes must be in Pool.
	KernelVolume  string
	InitrdVolume  string
	KernelCmdline string
}

// UploadInput starts an image from a file the upload handler stored.
type UploadInput struct {
	Name   string
	HostID string
	Pool   string
	Format string
	Kind   ImageKind // "" is a disk
	Path   string    // absolute, under the data dir
	// Optional direct kernel boot of a disk: kernel and initrd images (ids)
	// on the same host and in the same pool, and the command line.
	KernelImageID string
	InitrdImageID string
	KernelCmdline string
}

// ImageImportView is what the import worker needs.
type ImageImportView struct {
	Image   Image
	HostURI string
}

// libvirtNameRE is what pool and volume names may look like: nothing that
// a path or an XML attribute could misread.
var libvirtNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$`)

// Images is the admins' catalogue of base images.
type Images struct {
	db    *models.DB
	queue models.Queue
}

func NewImages(db *models.DB, queue models.Queue) *Images { return &Images{db: db, queue: queue} }

func validateImageCommon(tx *gorm.DB, fields map[string]models.Msg, name, hostID, pool, format string) error {
	textField(fields, "name", name, "Give the image a name.", 100)
	if !libvirtNameRE.MatchString(pool) {
		fields["pool"] = models.Msgf("Enter the name of a storage pool (letters, digits, . _ + -).")
	}
	if format != FormatQCOW2 && format != FormatRaw {
		fields["format"] = models.Msgf("Choose qcow2 or raw.")
	}
	var n int64
	if err := tx.Model(&Host{}).Where("id = ?", hostID).Count(&n).Error; err != nil {
		return fmt.Errorf("check host: %w", err)
	}
	if n == 0 {
		fields["host_id"] = models.Msgf("Choose a host.")
	}
	return nil
}

// Register records an existing volume as a ready image.
func (s *Images) Register(ctx context.Context, actor models.Actor, v models.Viewer, in ImageInput) (*Image, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	in.Name, in.Pool, in.Volume = strings.TrimSpace(in.Name), strings.TrimSpace(in.Pool), strings.TrimSpace(in.Volume)
	in.Format = strings.ToLower(strings.TrimSpace(in.Format))
	in.KernelVolume, in.InitrdVolume = strings.TrimSpace(in.KernelVolume), strings.TrimSpace(in.InitrdVolume)
	in.KernelCmdline = strings.TrimSpace(in.KernelCmdline)
	now := kit.UTCNow()
	img := &Image{ID: kit.NewID(), Name: in.Name, HostID: in.HostID, Pool: in.Pool, Volume: in.Volume, Format: in.Format,
		VirtualSizeBytes: in.VirtualSizeBytes, KernelVolume: in.KernelVolume, InitrdVolume: in.InitrdVolume,
		KernelCmdline: in.KernelCmdline, Kind: ImageDisk, Status: ImageReady, CreatedAt: now, UpdatedAt: now}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		fields := map[string]models.Msg{}
		if err := validateImageCommon(tx, fields, in.Name, in.HostID, in.Pool, in.Format); err != nil {
			return err
		}
		if !libvirtNameRE.MatchString(in.Volume) {
			fields["volume"] = models.Msgf("Enter the name of a volume in the pool (letters, digits, . _ + -).")
		}
		if in.VirtualSizeBytes <= 0 {
			fields["virtual_size_bytes"] = models.Msgf("Enter the virtual size of the volume.")
		}
		validateKernelBoot(fields, in)
		if len(fields) > 0 {
			return models.InvalidMsgs(fields)
		}
		return s.insertTx(tx, actor, img, "image.register")
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// BeginUpload records an uploaded image and, in the same transaction,
// enqueues its import into the pool. The volume is named after the image's
// id, never after user text.
func (s *Images) BeginUpload(ctx context.Context, actor models.Actor, v models.Viewer, in UploadInput) (*Image, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	in.Name, in.Pool = strings.TrimSpace(in.Name), strings.TrimSpace(in.Pool)
	in.Format = strings.ToLower(strings.TrimSpace(in.Format))
	in.KernelCmdline = strings.TrimSpace(in.KernelCmdline)
	if in.Kind == "" {
		in.Kind = ImageDisk
	}
	if in.Kind == ImageKernel || in.Kind == ImageInitrd {
		in.Format = FormatRaw // a kernel or initrd file is copied byte for byte
	}
	now := kit.UTCNow()
	id := kit.NewID()
	img := &Image{ID: id, Name: in.Name, HostID: in.HostID, Pool: in.Pool, Volume: "allmende-image-" + id, Format: in.Format,
		Kind: in.Kind, KernelCmdline: in.KernelCmdline, Status: ImageUploading, CreatedAt: now, UpdatedAt: now}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		fields := map[string]models.Msg{}
		if err := validateImageCommon(tx, fields, in.Name, in.HostID, in.Pool, in.Format); err != nil {
			return err
		}
		if err := s.kernelBootOfUpload(tx, fields, in, img); err != nil {
			return err
		}
		if !filepath.IsAbs(in.Path) {
			// The handler chose the path; a relative one is a bug there.
			return fmt.Errorf("upload path %q is not absolute", in.Path)
		}
		if len(fields) > 0 {
			return models.InvalidMsgs(fields)
		}
		if err := s.insertTx(tx, actor, img, "image.upload"); err != nil {
			return err
		}
		_, err := kit.Enqueue(ctx, s.queue, tx, jobargs.ImageImport{ImageID: img.ID, Path: in.Path}, &river.InsertOpts{MaxAttempts: 5})
		return err
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// kernelBootOfUpload checks the kind of an upload and, for a disk, the
// kernel and initrd images it boots: of their kind, not failed or retired,
// on the disk's host and in its pool. It sets img's kernel and initrd
// volumes, which VMs boot.
func (s *Images) kernelBootOfUpload(tx *gorm.DB, fields map[string]models.Msg, in UploadInput, img *Image) error {
	switch in.Kind {
	case ImageDisk:
	case ImageKernel, ImageInitrd:
		if in.KernelImageID != "" || in.InitrdImageID != "" || in.KernelCmdline != "" {
			fields["kind"] = models.Msgf("Only a disk image boots a kernel; leave the kernel boot fields empty for a kernel or initrd.")
		}
		return nil
	default:
		fields["kind"] = models.Msgf("Choose disk image, kernel or initrd.")
		return nil
	}
	for _, ref := range []struct {
		id, field string
		kind      ImageKind
		volume    *string
	}{{in.KernelImageID, "kernel_image_id", ImageKernel, &img.KernelVolume}, {in.InitrdImageID, "initrd_image_id", ImageInitrd, &img.InitrdVolume}} {
		if ref.id == "" {
			continue
		}
		var other Image
		if err := tx.Where("id = ? AND kind = ? AND status <> ? AND retired_at IS NULL", ref.id, ref.kind, ImageFailed).Limit(1).Find(&other).Error; err != nil {
			return fmt.Errorf("load %s image: %w", ref.kind, err)
		}
		switch {
		case other.ID == "":
			fields[ref.field] = models.Msgf("Choose an uploaded kernel.")
			if ref.kind == ImageInitrd {
				fields[ref.field] = models.Msgf("Choose an uploaded initrd.")
			}
		case other.HostID != in.HostID || other.Pool != in.Pool:
			fields[ref.field] = models.Msgf("This kernel is on another host or in another pool; upload it to the disk's host and pool.")
			if ref.kind == ImageInitrd {
				fields[ref.field] = models.Msgf("This initrd is on another host or in another pool; upload it to the disk's host and pool.")
			}
		default:
			*ref.volume = other.Volume
		}
	}
	kb := map[string]models.Msg{}
	validateKernelBoot(kb, ImageInput{Volume: img.Volume, KernelVolume: img.KernelVolume, InitrdVolume: img.InitrdVolume, KernelCmdline: in.KernelCmdline})
	for k, msg := range kb {
		switch k {
		case "kernel_cmdline":
			fields[k] = msg
		case "initrd_volume":
			if _, set := fields["initrd_image_id"]; in.KernelImageID == "" && !set {
				fields["initrd_image_id"] = models.Msgf("An initrd needs a kernel as well.")
			}
		}
	}
	if in.KernelImageID == "" && in.KernelCmdline != "" {
		fields["kernel_cmdline"] = models.Msgf("A kernel command line needs a kernel as well.")
	}
	return nil
}

// MaxKernelCmdline bounds an image's kernel command line; x86 kernels
// accept 2048 bytes, and real command lines are far shorter.
const MaxKernelCmdline = 1024

// validateKernelBoot checks the optional direct kernel boot of an image:
// volume names like the image's own, an initrd or command line only with
// a kernel, and a command line of printable ASCII. The command line goes
// into the domain XML and from there to QEMU's -append; line breaks or
// control characters there would only ever be a mistake or an attack.
func validateKernelBoot(fields map[string]models.Msg, in ImageInput) {
	volMsg := models.Msgf("Enter the name of a volume in the image's pool (letters, digits, . _ + -), or leave this empty.")
	if in.KernelVolume != "" && !libvirtNameRE.MatchString(in.KernelVolume) {
		fields["kernel_volume"] = volMsg
	}
	if in.InitrdVolume != "" && !libvirtNameRE.MatchString(in.InitrdVolume) {
		fields["initrd_volume"] = volMsg
	}
	if in.KernelVolume == "" {
		if in.InitrdVolume != "" {
			fields["initrd_volume"] = models.Msgf("An initrd needs a kernel volume as well.")
		}
		if in.KernelCmdline != "" {
			fields["kernel_cmdline"] = models.Msgf("A kernel command line needs a kernel volume as well.")
		}
	}
	for _, v := range []string{in.KernelVolume, in.InitrdVolume} {
		if v != "" && v == in.Volume {
			fields["volume"] = models.Msgf("The disk volume cannot also be the kernel or the initrd.")
		}
	}
	if len(in.KernelCmdline) > MaxKernelCmdline {
		fields["kernel_cmdline"] = models.Msgf("This is too long (at most %d characters).", MaxKernelCmdline)
	} else if !printableASCII(in.KernelCmdline) {
		fields["kernel_cmdline"] = models.Msgf("Use printable characters only (ASCII, no line breaks or tabs).")
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *Images) insertTx(tx *gorm.DB, actor models.Actor, img *Image, action string) error {
	if err := tx.Create(img).Error; err != nil {
		if kit.IsUniqueViolation(err) {
			return models.Invalid(map[string]string{"name": "This host has an image of this name or on this volume already."})
		}
		return fmt.Errorf("insert image: %w", err)
	}
	detail := map[string]any{"name": img.Name, "host_id": img.HostID, "pool": img.Pool, "volume": img.Volume, "format": img.Format, "kind": img.Kind}
	if img.KernelVolume != "" {
		detail["kernel_volume"], detail["initrd_volume"], detail["kernel_cmdline"] = img.KernelVolume, img.InitrdVolume, img.KernelCmdline
	}
	return kit.RecordAudit(tx, actor, action, "image", img.ID, detail)
}

// ForImport is what the import worker needs to know about an image.
func (s *Images) ForImport(ctx context.Context, imageID string) (*ImageImportView, error) {
	db := s.db.Gorm.WithContext(ctx)
	var out ImageImportView
	if err := kit.First(db, &out.Image, imageID, "image"); err != nil {
		return nil, err
	}
	var h Host
	if err := kit.First(db, &h, out.Image.HostID, "host"); err != nil {
		return nil, err
	}
	out.HostURI = h.URI
	return &out, nil
}

// MarkReady records a finished import. It is idempotent.
func (s *Images) MarkReady(ctx context.Context, imageID string, virtualSizeBytes int64) error {
	return s.finish(ctx, imageID, map[string]any{"status": ImageReady, "virtual_size_bytes": virtualSizeBytes, "error": ""})
}

// MarkFailed records why an import failed.
func (s *Images) MarkFailed(ctx context.Context, imageID string, cause error) error {
	if cause == nil {
		cause = errors.New("unknown error")
	}
	return s.finish(ctx, imageID, map[string]any{"status": ImageFailed, "error": readableError(cause)})
}

func (s *Images) finish(ctx context.Context, imageID string, set map[string]any) error {
	set["updated_at"] = kit.UTCNow()
	res := s.db.Gorm.WithContext(ctx).Model(&Image{}).Where("id = ?", imageID).Updates(set)
	if res.Error != nil {
		return fmt.Errorf("update image %s: %w", imageID, res.Error)
	}
	if res.RowsAffected == 0 {
		return models.NotFoundError("image")
	}
	return nil
}

// List returns the images members may choose (ready disks, not retired),
// by name; admins see every image not retired, whatever its status or kind.
func (s *Images) List(ctx context.Context, v models.Viewer) ([]Image, error) {
	q := s.db.Gorm.WithContext(ctx).Where("retired_at IS NULL")
	if !v.Admin {
		q = q.Where("status = ? AND kind = ?", ImageReady, ImageDisk)
	}
	var out []Image
	if err := q.Order("name, host_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out, nil
}

// Get loads an image; members see only images they may choose.
func (s *Images) Get(ctx context.Context, v models.Viewer, id string) (*Image, error) {
	var img Image
	if err := kit.First(s.db.Gorm.WithContext(ctx), &img, id, "image"); err != nil {
		return nil, err
	}
	if !v.Admin && (img.Status != ImageReady || img.RetiredAt != nil || img.Kind != ImageDisk) {
		return nil, models.NotFoundError("image")
	}
	return &img, nil
}

// Delete removes an image no VM was made from, and retires one that VMs
// use; retired reports which of the two happened. The volume itself stays
// in the pool: VM disks may be backed by it.
func (s *Images) Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) (retired bool, err error) {
	if err := kit.RequireAdmin(v); err != nil {
		return false, err
	}
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		retired = false // a retried transaction starts afresh
		var img Image
		if err := kit.First(kit.ForUpdate(tx), &img, id, "image"); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&VM{}).Where("image_id = ?", id).Count(&n).Error; err != nil {
			return fmt.Errorf("check use of image %s: %w", id, err)
		}
		if n > 0 {
			if err := tx.Model(&img).Updates(map[string]any{"retired_at": kit.UTCNow(), "updated_at": kit.UTCNow()}).Error; err != nil {
				return fmt.Errorf("retire image %s: %w", id, err)
			}
			retired = true
			return kit.RecordAudit(tx, actor, "image.retire", "image", id, map[string]any{"name": img.Name})
		}
		if err := tx.Delete(&Image{}, "id = ?", id).Error; err != nil {
			return fmt.Errorf("delete image %s: %w", id, err)
		}
		return kit.RecordAudit(tx, actor, "image.delete", "image", id, map[string]any{"name": img.Name})
	})
	return retired && err == nil, err
}

// readableError turns a worker's error into a reason fit for a page: the
// safe message of a domain error, else the error text, bounded in length.
func readableError(err error) string {
	msg := err.Error()
	if de, ok := models.AsError(err); ok && de.Safe != "" {
		msg = de.Safe
	}
	return kit.Truncate(strings.TrimSpace(msg), 2000)
}

// LoginUser is the account an image's cloud-init puts the SSH keys into,
// guessed from the image's name as the distributions' cloud images name
// their default user ("debian", "ubuntu", …); root for any other image
// (the portal's starter image, images made by hand).
func LoginUser(imageName string) string {
	name := strings.ToLower(imageName)
	for _, d := range []struct{ prefix, user string }{
		{"debian", "debian"}, {"ubuntu", "ubuntu"}, {"fedora", "fedora"}, {"centos", "cloud-user"},
		{"rocky", "rocky"}, {"alma", "almalinux"}, {"alpine", "alpine"}, {"arch", "arch"}, {"opensuse", "opensuse"},
	} {
		if strings.HasPrefix(name, d.prefix) {
			return d.user
		}
	}
	return "root"
}
