package web_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/web"
)

// adminWithHost starts a portal with an admin signed in and one host,
// written straight into the database so that no inventory job dials it.
// It returns the admin's client, the host's id and the configuration.
func adminWithHost(t *testing.T) (*web.Server, *client, string, *web.Config) {
	t.Helper()
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	c := newClient(t, base)
	wantStatus(t, c.login("admin@example.org", "correct horse battery"), http.StatusSeeOther)
	now := time.Now().UTC()
	host := compute.Host{ID: uuid.NewString(), Name: "kvm1", URI: "qemu+tcp://127.0.0.1:1/system", Role: compute.HostRoleCompute,
		CreatedAt: now, UpdatedAt: now, RefreshedAt: &now, Reachable: true, CPUs: 8, MemoryBytes: 16 << 30,
		Pools: `[{"name":"default","active":true,"path":"/var/lib/libvirt/images","capacity_bytes":107374182400}]`}
	if err := openDB(t, cfg).Gorm.Create(&host).Error; err != nil {
		t.Fatal(err)
	}
	return srv, c, host.ID, cfg
}

func openDB(t *testing.T, cfg *web.Config) *models.DB {
	t.Helper()
	db, err := models.Open(cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAdminVMPagesAccess(t *testing.T) {
	srv, admin, hostID, cfg := adminWithHost(t)
	resp, _ := admin.submit("/admin/plans", "/admin/plans", url.Values{"name": {"small"}, "vcpus": {"1"}, "memory_mib": {"1024"}, "disk_gib": {"10"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = admin.submit("/admin/networks", "/admin/networks", url.Values{"host_id": {hostID}, "name": {"lan"},
		"bridge": {"br0"}, "cidr": {"10.0.0.0/24"}, "gateway": {"10.0.0.1"}, "dns": {"9.9.9.9, 1.1.1.1"}})
	wantStatus(t, resp, http.StatusSeeOther)
	db := openDB(t, cfg)
	var plan compute.Plan
	var network compute.Network
	if err := db.Gorm.First(&plan, "name = ?", "small").Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Gorm.First(&network, "name = ?", "lan").Error; err != nil {
		t.Fatal(err)
	}

	pages := map[string]string{
		"/admin/plans":                         "New plan",
		"/admin/plans/" + plan.ID:              "Edit plan small",
		"/admin/images":                        "Upload an image",
		"/admin/images/table":                  "No images yet.",
		"/admin/networks":                      "10.0.0.0/24",
		"/admin/networks/" + network.ID:        "Edit network lan",
		"/admin/hosts/" + hostID + "/settings": "VM settings of kvm1",
		"/admin/drift":                         "No virtual machine is missing.",
	}
	for path, want := range pages {
		resp, body := admin.get(path)
		wantStatus(t, resp, http.StatusOK)
		wantContains(t, body, want)
	}
	_, body := admin.get("/admin/plans")
	wantContains(t, body, `href="/admin/drift"`, "1 GiB")
	_, body = admin.get("/admin/networks")
	wantContains(t, body, "9.9.9.9,1.1.1.1", "/admin/hosts/"+hostID+"/settings")

	createUser(t, srv, "member@example.org", account.RoleMember)
	member := newClient(t, admin.base)
	wantStatus(t, member.login("member@example.org", "correct horse battery"), http.StatusSeeOther)
	for path := range pages {
		resp, _ := member.get(path)
		wantStatus(t, resp, http.StatusForbidden)
	}
	resp, _ = member.submit("/", "/admin/plans", url.Values{"name": {"x"}, "vcpus": {"1"}, "memory_mib": {"1024"}, "disk_gib": {"1"}})
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = member.upload("/", map[string]string{"name": "x"}, 10, viaHeader)
	wantStatus(t, resp, http.StatusForbidden)
}

func TestAdminPlanBadInput(t *testing.T) {
	_, c, _, _ := adminWithHost(t)
	resp, body := c.submit("/admin/plans", "/admin/plans", url.Values{"name": {""}, "vcpus": {"0"}, "memory_mib": {"4096"}, "disk_gib": {"20"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Give the plan a name.", "Use 1 to 128 vCPUs.", `value="4096"`, `value="20"`, `aria-invalid="true"`)

	resp, body = c.submit("/admin/plans", "/admin/plans", url.Values{"name": {"big"}, "vcpus": {"two"}, "memory_mib": {"4096"}, "disk_gib": {"20"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a whole number.", `value="two"`, `value="big"`)

	resp, _ = c.submit("/admin/plans", "/admin/plans", url.Values{"name": {"big"}, "vcpus": {"2"}, "memory_mib": {"4096"}, "disk_gib": {"20"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = c.submit("/admin/plans", "/admin/plans", url.Values{"name": {"big"}, "vcpus": {"2"}, "memory_mib": {"4096"}, "disk_gib": {"20"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "A plan with this name exists already.")

	resp, _ = c.get("/admin/plans/nope")
	wantStatus(t, resp, http.StatusNotFound)
}

func TestAdminPlanEditDelete(t *testing.T) {
	_, c, _, cfg := adminWithHost(t)
	resp, _ := c.submit("/admin/plans", "/admin/plans", url.Values{"name": {"small"}, "vcpus": {"1"}, "memory_mib": {"1024"}, "disk_gib": {"10"}})
	wantStatus(t, resp, http.StatusSeeOther)
	var plan compute.Plan
	if err := openDB(t, cfg).Gorm.First(&plan, "name = ?", "small").Error; err != nil {
		t.Fatal(err)
	}
	resp, body := c.submit("/admin/plans/"+plan.ID, "/admin/plans/"+plan.ID, url.Values{"name": {"tiny"}, "vcpus": {"1"}, "memory_mib": {"1"}, "disk_gib": {"10"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Use 128 to", `value="tiny"`)
	resp, _ = c.submit("/admin/plans/"+plan.ID, "/admin/plans/"+plan.ID, url.Values{"name": {"tiny"}, "vcpus": {"2"}, "memory_mib": {"512"}, "disk_gib": {"10"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/admin/plans")
	wantContains(t, body, "Plan tiny saved.", "512 MiB")
	resp, _ = c.submit("/admin/plans", "/admin/plans/"+plan.ID+"/delete", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/admin/plans")
	wantContains(t, body, "Plan tiny deleted.", "No plans yet.")
}

func TestAdminNetworkBadInput(t *testing.T) {
	_, c, hostID, _ := adminWithHost(t)
	resp, body := c.submit("/admin/networks", "/admin/networks", url.Values{"host_id": {hostID}, "name": {"lan"},
		"libvirt_network": {"default"}, "cidr": {"10.0.0.300/24"}, "gateway": {""}, "dns": {"9.9.9.9"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter an IPv4 network in CIDR notation", `value="10.0.0.300/24"`, `value="default"`, `value="9.9.9.9"`)

	resp, body = c.submit("/admin/networks", "/admin/networks", url.Values{"host_id": {"nope"}, "name": {"lan"},
		"bridge": {"br0"}, "cidr": {"10.0.0.1/24"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose a host.", "did you mean 10.0.0.0/24?")

	resp, _ = c.submit("/admin/networks", "/admin/networks", url.Values{"host_id": {hostID}, "name": {"lan"},
		"bridge": {"br0"}, "cidr": {"10.0.0.0/24"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/admin/networks")
	wantContains(t, body, "Network lan created.", "br0")
}

func TestAdminHostSettingsBadPercent(t *testing.T) {
	_, c, hostID, _ := adminWithHost(t)
	page := "/admin/hosts/" + hostID + "/settings"
	_, body := c.get(page)
	wantContains(t, body, `value="400"`, `value="100"`)

	resp, body := c.submit(page, page, url.Values{"cpu_overcommit_percent": {"50"}, "memory_overcommit_percent": {"150"}, "domain_type": {"kvm"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Use 100 to 2000 percent", `value="50"`, `value="150"`)

	resp, body = c.submit(page, page, url.Values{"cpu_overcommit_percent": {"lots"}, "memory_overcommit_percent": {"150"}, "domain_type": {""}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a whole number.", `value="lots"`)

	resp, body = c.submit(page, page, url.Values{"cpu_overcommit_percent": {"800"}, "memory_overcommit_percent": {"150"}, "domain_type": {"xen"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose kvm, qemu or automatic.")

	resp, _ = c.submit(page, page, url.Values{"cpu_overcommit_percent": {"800"}, "memory_overcommit_percent": {"150"}, "domain_type": {"qemu"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get(page)
	wantContains(t, body, "VM settings of kvm1 saved.", `value="800"`, `value="qemu" selected`)

	resp, _ = c.get("/admin/hosts/nope/settings")
	wantStatus(t, resp, http.StatusNotFound)
}

// Ways to post the upload form: the CSRF token in the form (no JavaScript),
// in the X-CSRF-Token header, or as htmx sends it (header and HX-Request).
const (
	viaForm = iota
	viaHeader
	viaHTMX
)

// upload posts the upload form with a file of size bytes (none if size < 0).
func (c *client) upload(page string, fields map[string]string, size int, via int) (*http.Response, string) {
	c.t.Helper()
	token := c.csrf(page)
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if via == viaForm {
		_ = w.WriteField("_csrf", token)
	}
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if size >= 0 {
		fw, err := w.CreateFormFile("file", "disk.qcow2")
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := io.CopyN(fw, zeroes{}, int64(size)); err != nil {
			c.t.Fatal(err)
		}
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.base+"/admin/images/upload", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if via != viaForm {
		req.Header.Set("X-CSRF-Token", token)
	}
	if via == viaHTMX {
		req.Header.Set("HX-Request", "true")
	}
	return c.do(req)
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func uploads(t *testing.T, cfg *web.Config) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(cfg.DataDir, "uploads"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestAdminImageUpload(t *testing.T) {
	_, c, hostID, cfg := adminWithHost(t)
	db := openDB(t, cfg)
	fields := map[string]string{"name": "debian-12", "host_id": hostID, "pool": "default", "format": "qcow2"}

	resp, _ := c.upload("/admin/images", fields, 4096, viaHeader)
	wantStatus(t, resp, http.StatusSeeOther)
	var img compute.Image
	if err := db.Gorm.First(&img, "name = ?", "debian-12").Error; err != nil {
		t.Fatal(err)
	}
	if img.Status != compute.ImageUploading || img.HostID != hostID || img.Pool != "default" || img.Format != "qcow2" {
		t.Errorf("image after upload: %+v", img)
	}
	files := uploads(t, cfg)
	if len(files) != 1 {
		t.Fatalf("upload dir holds %v, want one file", files)
	}
	info, err := os.Stat(filepath.Join(cfg.DataDir, "uploads", files[0]))
	if err != nil || info.Size() != 4096 {
		t.Fatalf("uploaded file: %v, %v", info, err)
	}
	var args string
	if err := db.SQL.QueryRowContext(context.Background(),
		`SELECT args FROM river_job WHERE kind = 'image.import'`).Scan(&args); err != nil {
		t.Fatalf("no image.import job: %v", err)
	}
	if !strings.Contains(args, img.ID) || !strings.Contains(args, files[0]) {
		t.Errorf("job args %s do not name image %s and file %s", args, img.ID, files[0])
	}
	_, body := c.get("/admin/images")
	wantContains(t, body, "Image debian-12 uploaded", "uploading", `hx-get="/admin/images/table"`)

	// Past the global 1 MiB body limit: the upload route streams.
	fields["name"] = "big"
	resp, _ = c.upload("/admin/images", fields, 3<<20, viaHeader)
	wantStatus(t, resp, http.StatusSeeOther)
	if n := len(uploads(t, cfg)); n != 2 {
		t.Errorf("%d uploaded files, want 2", n)
	}

	// Without JavaScript the token comes in the body: small files work,
	// large ones meet the global limit.
	fields["name"] = "nojs"
	resp, _ = c.upload("/admin/images", fields, 2048, viaForm)
	wantStatus(t, resp, http.StatusSeeOther)
	fields["name"] = "nojs-big"
	resp, _ = c.upload("/admin/images", fields, 3<<20, viaForm)
	wantStatus(t, resp, http.StatusRequestEntityTooLarge)

	// Bad input: the fields come back with their errors; no file is left.
	resp, body = c.upload("/admin/images", map[string]string{"name": "", "host_id": "nope", "pool": "bad/pool", "format": "vmdk"}, 1024, viaHeader)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Give the image a name.", "Choose a host.", "Enter the name of a storage pool", "Choose qcow2 or raw.",
		`value="bad/pool"`, `name="file"`)
	resp, body = c.upload("/admin/images", map[string]string{"name": "nofile", "host_id": hostID, "pool": "default", "format": "raw"}, -1, viaHeader)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose an image file to upload.", `value="nofile"`)

	// htmx gets the form alone, values kept and errors by the fields,
	// marked for static/app.js to swap in despite the error status.
	resp, body = c.upload("/admin/images", map[string]string{"name": "", "host_id": hostID, "pool": "default", "format": "raw",
		"kernel_cmdline": "console=ttyS0"}, 1024, viaHTMX)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if resp.Header.Get("X-Form-Errors") != "true" || resp.Header.Get("HX-Redirect") != "" {
		t.Errorf("htmx error answer headers: %v", resp.Header)
	}
	wantContains(t, body, `id="upload-section"`, "Give the image a name.", `value="console=ttyS0"`, "Choose the file again",
		"A kernel command line needs a kernel as well.")
	if strings.Contains(body, "<html") {
		t.Error("htmx error answer is a whole page")
	}
	if n := len(uploads(t, cfg)); n != 3 {
		t.Errorf("%d uploaded files after failed uploads, want 3", n)
	}
	fields["name"] = "htmx"
	resp, _ = c.upload("/admin/images", fields, 1024, viaHTMX)
	wantStatus(t, resp, http.StatusNoContent)
	if got := resp.Header.Get("HX-Redirect"); got != "/admin/images" {
		t.Errorf("HX-Redirect %q", got)
	}
	if n := len(uploads(t, cfg)); n != 4 {
		t.Errorf("%d uploaded files, want 4", n)
	}
}

// The images page preselects the only host; kernels and initrds uploaded
// as such are offered to disk uploads for direct kernel boot, never to
// members.
func TestAdminImageUploadKinds(t *testing.T) {
	server, c, hostID, cfg := adminWithHost(t)
	db := openDB(t, cfg)
	_, body := c.get("/admin/images")
	wantContains(t, body, `<option value="`+hostID+`" selected>`, `<option value="disk" selected>`, `id="up-progress"`)

	for _, kind := range []string{"kernel", "initrd"} {
		resp, _ := c.upload("/admin/images", map[string]string{"name": "tiny-" + kind, "kind": kind, "host_id": hostID, "pool": "default",
			"format": "qcow2"}, 1024, viaHeader)
		wantStatus(t, resp, http.StatusSeeOther)
	}
	var kernel, initrd compute.Image
	if err := db.Gorm.First(&kernel, "name = ?", "tiny-kernel").Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Gorm.First(&initrd, "name = ?", "tiny-initrd").Error; err != nil {
		t.Fatal(err)
	}
	if kernel.Kind != compute.ImageKernel || kernel.Format != compute.FormatRaw || initrd.Kind != compute.ImageInitrd {
		t.Errorf("kernel %+v, initrd %+v", kernel, initrd)
	}
	_, body = c.get("/admin/images")
	wantContains(t, body, `<option value="`+kernel.ID+`">tiny-kernel`, `<option value="`+initrd.ID+`">tiny-initrd`)

	resp, _ := c.upload("/admin/images", map[string]string{"name": "tiny", "kind": "disk", "host_id": hostID, "pool": "default",
		"format": "raw", "kernel_image_id": kernel.ID, "initrd_image_id": initrd.ID, "kernel_cmdline": "console=ttyS0"}, 1024, viaHeader)
	wantStatus(t, resp, http.StatusSeeOther)
	var disk compute.Image
	if err := db.Gorm.First(&disk, "name = ?", "tiny").Error; err != nil {
		t.Fatal(err)
	}
	if disk.Kind != compute.ImageDisk || disk.KernelVolume != kernel.Volume || disk.InitrdVolume != initrd.Volume || disk.KernelCmdline != "console=ttyS0" {
		t.Errorf("disk %+v", disk)
	}
	// Members: ready disks only, in the API as on the create form.
	if err := db.Gorm.Model(&compute.Image{}).Where("1 = 1").Update("status", compute.ImageReady).Error; err != nil {
		t.Fatal(err)
	}
	createUser(t, server, "mia@example.org", account.RoleMember)
	mia := newClient(t, c.base)
	wantStatus(t, mia.login("mia@example.org", "correct horse battery"), http.StatusSeeOther)
	_, body = mia.get("/vms/new")
	wantContains(t, body, ">tiny<")
	if strings.Contains(body, "tiny-kernel") || strings.Contains(body, "tiny-initrd") {
		t.Error("the VM create form offers a kernel or an initrd")
	}
	d := openDomain(t, cfg)
	_, body = mia.api(http.MethodGet, "/api/v1/images", tokenFor(t, d, "mia@example.org"))
	wantContains(t, body, `"tiny"`)
	if strings.Contains(body, "tiny-kernel") || strings.Contains(body, "tiny-initrd") {
		t.Errorf("the API offers a kernel or an initrd: %s", body)
	}
}

func TestAdminImageRegisterAndDelete(t *testing.T) {
	_, c, hostID, _ := adminWithHost(t)
	resp, body := c.submit("/admin/images", "/admin/images", url.Values{"name": {"alpine"}, "host_id": {hostID}, "pool": {"default"},
		"volume": {"alpine.qcow2"}, "format": {"qcow2"}, "virtual_size": {"lots"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a size in bytes", `value="lots"`, `value="alpine.qcow2"`)

	resp, _ = c.submit("/admin/images", "/admin/images", url.Values{"name": {"alpine"}, "host_id": {hostID}, "pool": {"default"},
		"volume": {"alpine.qcow2"}, "format": {"qcow2"}, "virtual_size": {"2G"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/admin/images")
	wantContains(t, body, "Image alpine registered.", "2.0 GiB", "ready")
}

func TestAdminDriftLists(t *testing.T) {
	_, c, hostID, cfg := adminWithHost(t)
	_, body := c.get("/admin/drift")
	wantContains(t, body, "The hosts agree with the database.", "never deleted")

	now := time.Now().UTC()
	orphan := compute.DriftReport{ID: uuid.NewString(), HostID: hostID, Kind: compute.DriftOrphan, DomainName: "allmende-stray",
		Detail: "A domain the database does not know, running.", FirstSeenAt: now, LastSeenAt: now}
	if err := openDB(t, cfg).Gorm.Create(&orphan).Error; err != nil {
		t.Fatal(err)
	}
	_, body = c.get("/admin/drift")
	wantContains(t, body, "allmende-stray", "unknown domain", "kvm1", "A domain the database does not know, running.")
}

// The register form takes an optional direct kernel boot; its errors are
// shown next to their fields, and the table says how the image boots.
func TestAdminRegisterKernelBootImage(t *testing.T) {
	_, c, hostID, _ := adminWithHost(t)
	form := func(kernel, initrd, cmdline string) url.Values {
		return url.Values{"name": {"guest"}, "host_id": {hostID}, "pool": {"default"}, "volume": {"guest.qcow2"},
			"format": {"qcow2"}, "virtual_size": {"64M"}, "kernel_volume": {kernel}, "initrd_volume": {initrd}, "kernel_cmdline": {cmdline}}
	}
	resp, body := c.submit("/admin/images", "/admin/images", form("", "initrd.gz", "console=ttyS0\tquiet"))
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, `id="reg-e-initrd_volume"`, "An initrd needs a kernel volume as well.",
		`id="reg-e-kernel_cmdline"`, `value="initrd.gz"`, `value="guest.qcow2"`)

	resp, body = c.submit("/admin/images", "/admin/images", form("vmlinuz", "initrd.gz", "console=ttyS0\nrm -rf"))
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Use printable characters only", `value="vmlinuz"`)
	if strings.Contains(body, `id="reg-e-initrd_volume"`) {
		t.Error("initrd error shown although a kernel was given")
	}

	resp, _ = c.submit("/admin/images", "/admin/images", form("vmlinuz", "initrd.gz", "console=ttyS0 panic=-1"))
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/admin/images")
	wantContains(t, body, "Image guest registered.", `class="muted kernel-boot"`, "<code>vmlinuz</code>", "<code>initrd.gz</code>")
}
