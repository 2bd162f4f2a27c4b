package handlers

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/compute"
	"allmende/views"
)

const (
	// MaxImageUpload bounds one uploaded image file (and its form).
	MaxImageUpload = 20 << 30
	// imageUploadTime replaces the server's read timeout for an upload: a
	// large image takes far longer than one ordinary request.
	imageUploadTime = 12 * time.Hour
	maxUploadField  = 4 << 10
)

var uploadFields = []string{"name", "host_id", "pool", "format", "kind", "kernel_image_id", "initrd_image_id", "kernel_cmdline"}

// AdminImages lists the images with the upload and register forms.
func (h *Handler) AdminImages(c echo.Context) error {
	return h.renderAdminImages(c, http.StatusOK, views.Form{}, views.Form{})
}

func (h *Handler) renderAdminImages(c echo.Context, status int, register, upload views.Form) error {
	ctx := c.Request().Context()
	images, err := h.Images.List(ctx, viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	hosts, err := h.Hosts.List(ctx)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Images", "images")
	if err != nil {
		return err
	}
	if upload.Values == nil {
		upload.Values = uploadDefaults(hosts)
	}
	if register.Values == nil {
		register.Values = uploadDefaults(hosts)
	}
	d := views.AdminImagesData{Images: images, Hosts: hosts, Register: register, Upload: upload,
		MaxSize: views.Bytes(MaxImageUpload)}
	if c.Request().Header.Get("HX-Request") == "true" && upload.Errors != nil {
		// An htmx upload that failed: only the form, with its errors and
		// values; static/app.js swaps it in place of the one sent.
		c.Response().Header().Set("X-Form-Errors", "true")
		return render(c, status, views.AdminImageUploadForm(p, d))
	}
	return render(c, status, views.AdminImagesPage(p, d))
}

// uploadDefaults preselects the host and pool when there is just one, and
// a disk image in qcow2.
func uploadDefaults(hosts []compute.Host) map[string]string {
	v := map[string]string{"format": compute.FormatQCOW2, "kind": string(compute.ImageDisk)}
	if len(hosts) == 1 {
		v["host_id"] = hosts[0].ID
		if pools := hosts[0].PoolList(); len(pools) == 1 {
			v["pool"] = pools[0].Name
		} else {
			v["pool"] = "default"
		}
	}
	return v
}

// AdminImagesTable is the htmx partial the images page polls while an
// import runs.
func (h *Handler) AdminImagesTable(c echo.Context) error {
	ctx := c.Request().Context()
	images, err := h.Images.List(ctx, viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	hosts, err := h.Hosts.List(ctx)
	if err != nil {
		return err
	}
	p, err := h.page(c, "Images", "images")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AdminImagesTable(p, images, hosts))
}

// AdminRegisterImage records a volume that is already in a pool.
func (h *Handler) AdminRegisterImage(c echo.Context) error {
	f := formOf(c, "name", "host_id", "pool", "volume", "format", "virtual_size", "kernel_volume", "initrd_volume", "kernel_cmdline")
	size, ok := parseSize(f.Value("virtual_size"))
	if !ok {
		f.Errors = map[string]string{"virtual_size": "Enter a size in bytes, or with a unit like 10G or 2048M."}
		return h.renderAdminImages(c, http.StatusUnprocessableEntity, f, views.Form{})
	}
	img, err := h.Images.Register(c.Request().Context(), actor(c), viewer(CurrentUser(c)), compute.ImageInput{
		Name: f.Value("name"), HostID: f.Value("host_id"), Pool: f.Value("pool"), Volume: f.Value("volume"),
		Format: f.Value("format"), VirtualSizeBytes: size,
		KernelVolume: f.Value("kernel_volume"), InitrdVolume: f.Value("initrd_volume"), KernelCmdline: f.Value("kernel_cmdline"),
	})
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		if msg, found := f.Errors["virtual_size_bytes"]; found {
			f.Errors["virtual_size"] = msg
		}
		return h.renderAdminImages(c, status, f, views.Form{})
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "Image %s registered.", img.Name), "/admin/images")
}

// parseSize reads "2361393152", "10G", "10 GiB" or "2048M" (binary units)
// as bytes; an empty value is 0, which the domain rejects.
func parseSize(s string) (int64, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, true
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"tib", 1 << 40}, {"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10},
		{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

// AdminDeleteImage deletes an image no VM was made from, and retires one
// that VMs use.
func (h *Handler) AdminDeleteImage(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	img, err := h.Images.Get(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	retired, err := h.Images.Delete(ctx, actor(c), v, img.ID)
	if err != nil {
		if _, ok := models.AsError(err); !ok {
			return err
		}
		return h.flashTo(c, "error", errText(c.Request().Context(), err), "/admin/images")
	}
	msg := i18n.T(ctx, "Image %s deleted.", img.Name)
	if retired {
		msg = i18n.T(ctx, "Virtual machines were made from image %s, so it was retired: it is no longer offered.", img.Name)
	}
	return h.flashTo(c, "success", msg, "/admin/images")
}

// AdminUploadImage streams an uploaded image file to a temporary file under
// UploadDir, never holding it in memory, and then records the image and
// queues its import in one transaction. The file is removed on any failure.
//
// The route is exempt from the global body limit when the CSRF token comes
// in the X-CSRF-Token header (htmx sends it), so the CSRF check does not
// read the body; this handler applies its own limit. A form posted without
// JavaScript carries the token in the body: the CSRF check has then parsed
// the (small, globally limited) body already, and it is taken from there.
func (h *Handler) AdminUploadImage(c echo.Context) error {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response().Writer, req.Body, MaxImageUpload)
	// Not every writer supports deadlines (tests' recorders); then the
	// server's own timeout stays.
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(imageUploadTime))

	f := views.Form{Values: map[string]string{}}
	var path string
	var err error
	if req.MultipartForm != nil {
		path, err = h.uploadFromParsed(req.MultipartForm, &f)
	} else {
		path, err = h.uploadFromStream(req, &f)
	}
	if err != nil {
		return h.uploadFailed(c, err, f)
	}
	if path == "" {
		f.Errors = map[string]string{"file": "Choose an image file to upload."}
		return h.uploadFailed(c, models.Invalid(f.Errors), f)
	}
	img, err := h.Images.BeginUpload(req.Context(), actor(c), viewer(CurrentUser(c)), compute.UploadInput{
		Name: f.Value("name"), HostID: f.Value("host_id"), Pool: f.Value("pool"), Format: f.Value("format"), Path: path,
		Kind: compute.ImageKind(f.Value("kind")), KernelImageID: f.Value("kernel_image_id"), InitrdImageID: f.Value("initrd_image_id"),
		KernelCmdline: f.Value("kernel_cmdline"),
	})
	if err != nil {
		if rerr := os.Remove(path); rerr != nil && h.Log != nil {
			h.Log.Warn("remove failed upload", "path", path, "err", rerr)
		}
		return h.uploadFailed(c, err, f)
	}
	msg := "Image " + img.Name + " uploaded; it is being imported into pool " + img.Pool + "."
	if err := h.Sessions.AddFlash(c, "success", msg); err != nil {
		return err
	}
	if req.Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", "/admin/images")
		return c.NoContent(http.StatusNoContent)
	}
	return redirect(c, "/admin/images")
}

// uploadFailed answers a failed upload with the form again, its values and
// errors by the fields (for htmx just the form, marked for app.js to swap
// in although the status is an error). Internal errors go to the error
// handler.
func (h *Handler) uploadFailed(c echo.Context, err error, f views.Form) error {
	status, ok := formFailure(c.Request().Context(), err, &f)
	if !ok {
		return err
	}
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	return h.renderAdminImages(c, status, views.Form{}, f)
}

// uploadFromStream reads the multipart body part by part: the text fields
// into f, the file part straight into a temporary file, whose path it
// returns ("" when no file was sent). On error the file is already removed.
func (h *Handler) uploadFromStream(req *http.Request, f *views.Form) (path string, err error) {
	mr, err := req.MultipartReader()
	if err != nil {
		return "", &models.Error{Code: http.StatusBadRequest, Safe: "Send the upload as a multipart form.", Err: err}
	}
	defer func() {
		if err != nil && path != "" {
			_ = os.Remove(path)
			path = ""
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return path, nil
		}
		if err != nil {
			return path, readFailure(err)
		}
		name := part.FormName()
		switch {
		case name == "file":
			if path != "" {
				part.Close()
				return path, models.Invalid(map[string]string{"file": "Upload one file at a time."})
			}
			path, err = h.spool(part)
		case isUploadField(name):
			var b []byte
			b, err = io.ReadAll(io.LimitReader(part, maxUploadField+1))
			if err == nil && len(b) > maxUploadField {
				err = models.Invalid(map[string]string{name: "This value is too long."})
			}
			f.Values[name] = string(b)
		}
		part.Close()
		if err != nil {
			if _, ok := models.AsError(err); !ok {
				err = readFailure(err)
			}
			return path, err
		}
	}
}

func isUploadField(name string) bool {
	for _, n := range uploadFields {
		if n == name {
			return true
		}
	}
	return false
}

// uploadFromParsed takes the fields and the file from a form the CSRF check
// has parsed already.
func (h *Handler) uploadFromParsed(form *multipart.Form, f *views.Form) (string, error) {
	for _, n := range uploadFields {
		if vs := form.Value[n]; len(vs) > 0 {
			f.Values[n] = vs[0]
		}
	}
	files := form.File["file"]
	if len(files) == 0 {
		return "", nil
	}
	src, err := files[0].Open()
	if err != nil {
		return "", fmt.Errorf("open parsed upload: %w", err)
	}
	defer src.Close()
	return h.spool(src)
}

// spool copies an upload into a new file under UploadDir and returns its
// absolute path; an empty upload gives "" and leaves no file.
func (h *Handler) spool(r io.Reader) (string, error) {
	dir, err := filepath.Abs(h.UploadDir)
	if err != nil {
		return "", fmt.Errorf("upload dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create upload dir: %w", err)
	}
	file, err := os.CreateTemp(dir, "image-*.upload")
	if err != nil {
		return "", fmt.Errorf("create upload file: %w", err)
	}
	src := &readErrs{r: r}
	n, err := io.Copy(file, src)
	if cerr := file.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil && n == 0 {
		_ = os.Remove(file.Name())
		return "", nil
	}
	if err != nil {
		_ = os.Remove(file.Name())
		switch {
		case src.err != nil:
			return "", readFailure(src.err)
		case errors.Is(err, syscall.ENOSPC):
			return "", &models.Error{Code: http.StatusInsufficientStorage, Safe: "The portal has no room for this file.", Err: err}
		}
		return "", fmt.Errorf("write upload: %w", err)
	}
	return file.Name(), nil
}

// readErrs remembers the error of the request side of a copy, to tell it
// from an error writing the file.
type readErrs struct {
	r   io.Reader
	err error
}

func (e *readErrs) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

// readFailure describes an error reading the request body.
func readFailure(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &models.Error{Code: http.StatusRequestEntityTooLarge, Err: err,
			Safe:   "The file is too large.",
			Fields: map[string]string{"file": "The file is larger than " + views.Bytes(MaxImageUpload) + "."}}
	}
	return &models.Error{Code: http.StatusBadRequest, Safe: "The upload was interrupted or malformed; please try again.", Err: err}
}
