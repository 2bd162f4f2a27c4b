package handlers

import (
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/compute"
)

// The admins' catalogue in the API: plans, images, networks, hosts and
// their VM settings. Each handler is the twin of an admin page's handler
// (admin_plans.go, admin_images.go, admin_networks.go, admin_hosts.go,
// admin_hostsettings.go) and calls the same domain service; the domain
// validates and checks the admin role.

func toAPIPlan(p *compute.Plan) apiPlan {
	return apiPlan{ID: p.ID, Name: p.Name, VCPUs: p.VCPUs, MemoryMiB: p.MemoryMiB, DiskGiB: p.DiskGiB, Retired: p.RetiredAt != nil}
}

// apiPlanRequest is the body of POST /plans and PUT /plans/{id}.
type apiPlanRequest struct {
	Name      string `json:"name"`
	VCPUs     int    `json:"vcpus"`
	MemoryMiB int    `json:"memory_mib"`
	DiskGiB   int    `json:"disk_gib"`
}

func (r apiPlanRequest) input() compute.PlanInput {
	return compute.PlanInput{Name: r.Name, VCPUs: r.VCPUs, MemoryMiB: r.MemoryMiB, DiskGiB: r.DiskGiB}
}

// APICreatePlan answers POST /api/v1/plans (admins).
func (h *Handler) APICreatePlan(c echo.Context) error {
	var in apiPlanRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	p, err := h.Plans.Create(c.Request().Context(), actor(c), viewer(CurrentUser(c)), in.input())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/plans/"+p.ID)
	return c.JSON(http.StatusCreated, toAPIPlan(p))
}

// APIGetPlan answers GET /api/v1/plans/{id}; members see plans on offer,
// admins retired ones too.
func (h *Handler) APIGetPlan(c echo.Context) error {
	p, err := h.Plans.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIPlan(p))
}

// APIUpdatePlan answers PUT /api/v1/plans/{id} (admins): the plan's new
// name and size, all fields as on the edit page.
func (h *Handler) APIUpdatePlan(c echo.Context) error {
	var in apiPlanRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	p, err := h.Plans.Update(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), in.input())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIPlan(p))
}

// APIDeletePlan answers DELETE /api/v1/plans/{id} (admins): a plan no VM
// used is deleted (204); one that VMs use is retired, no longer offered,
// and comes back with retired true (200). Repeating it on a retired plan
// changes nothing.
func (h *Handler) APIDeletePlan(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	if err := h.Plans.Delete(ctx, actor(c), v, c.Param("id")); err != nil {
		return err
	}
	p, err := h.Plans.Get(ctx, v, c.Param("id"))
	if models.IsNotFound(err) {
		return c.NoContent(http.StatusNoContent)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIPlan(p))
}

// apiNetwork is the JSON shape of a network.
type apiNetwork struct {
	ID             string   `json:"id"`
	HostID         string   `json:"host_id"`
	Name           string   `json:"name"`
	LibvirtNetwork string   `json:"libvirt_network"`
	Bridge         string   `json:"bridge"`
	CIDR           string   `json:"cidr"`
	Gateway        string   `json:"gateway"`
	DNS            []string `json:"dns"`
}

func toAPINetwork(n *compute.Network) apiNetwork {
	dns := n.DNSServers()
	if dns == nil {
		dns = []string{}
	}
	return apiNetwork{ID: n.ID, HostID: n.HostID, Name: n.Name, LibvirtNetwork: n.LibvirtNetwork, Bridge: n.Bridge,
		CIDR: n.CIDR, Gateway: n.Gateway, DNS: dns}
}

// apiNetworkRequest is the body of POST /networks and PUT /networks/{id}
// (where host_id must be left out: a network never moves).
type apiNetworkRequest struct {
	HostID         string   `json:"host_id"`
	Name           string   `json:"name"`
	LibvirtNetwork string   `json:"libvirt_network"`
	Bridge         string   `json:"bridge"`
	CIDR           string   `json:"cidr"`
	Gateway        string   `json:"gateway"`
	DNS            []string `json:"dns"`
}

func (r apiNetworkRequest) input() compute.NetworkInput {
	return compute.NetworkInput{HostID: r.HostID, Name: r.Name, LibvirtNetwork: r.LibvirtNetwork, Bridge: r.Bridge,
		CIDR: r.CIDR, Gateway: r.Gateway, DNS: r.DNS}
}

// APINetworks answers GET /api/v1/networks?host_id= (admins).
func (h *Handler) APINetworks(c echo.Context) error {
	nets, err := h.Networks.List(c.Request().Context(), viewer(CurrentUser(c)), c.QueryParam("host_id"))
	if err != nil {
		return err
	}
	out := make([]apiNetwork, 0, len(nets))
	for i := range nets {
		out = append(out, toAPINetwork(&nets[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"networks": out})
}

// APICreateNetwork answers POST /api/v1/networks (admins).
func (h *Handler) APICreateNetwork(c echo.Context) error {
	var in apiNetworkRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	n, err := h.Networks.Create(c.Request().Context(), actor(c), viewer(CurrentUser(c)), in.input())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/networks/"+n.ID)
	return c.JSON(http.StatusCreated, toAPINetwork(n))
}

// APIGetNetwork answers GET /api/v1/networks/{id} (admins).
func (h *Handler) APIGetNetwork(c echo.Context) error {
	n, err := h.Networks.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPINetwork(n))
}

// APIUpdateNetwork answers PUT /api/v1/networks/{id} (admins).
func (h *Handler) APIUpdateNetwork(c echo.Context) error {
	var in struct {
		Name           string   `json:"name"`
		LibvirtNetwork string   `json:"libvirt_network"`
		Bridge         string   `json:"bridge"`
		CIDR           string   `json:"cidr"`
		Gateway        string   `json:"gateway"`
		DNS            []string `json:"dns"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	n, err := h.Networks.Update(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"),
		apiNetworkRequest{Name: in.Name, LibvirtNetwork: in.LibvirtNetwork, Bridge: in.Bridge, CIDR: in.CIDR,
			Gateway: in.Gateway, DNS: in.DNS}.input())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPINetwork(n))
}

// APIDeleteNetwork answers DELETE /api/v1/networks/{id} (admins): refused
// (409) while a VM holds an address in it.
func (h *Handler) APIDeleteNetwork(c echo.Context) error {
	if err := h.Networks.Delete(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiImageRequest is the body of POST /api/v1/images: a volume that is
// already in a host's pool, registered as a ready disk image.
type apiImageRequest struct {
	Name             string `json:"name"`
	HostID           string `json:"host_id"`
	Pool             string `json:"pool"`
	Volume           string `json:"volume"`
	Format           string `json:"format"`
	VirtualSizeBytes int64  `json:"virtual_size_bytes"`
	KernelVolume     string `json:"kernel_volume"`
	InitrdVolume     string `json:"initrd_volume"`
	KernelCmdline    string `json:"kernel_cmdline"`
}

// APIRegisterImage answers POST /api/v1/images (admins).
func (h *Handler) APIRegisterImage(c echo.Context) error {
	var in apiImageRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	img, err := h.Images.Register(c.Request().Context(), actor(c), viewer(CurrentUser(c)), compute.ImageInput{
		Name: in.Name, HostID: in.HostID, Pool: in.Pool, Volume: in.Volume, Format: in.Format,
		VirtualSizeBytes: in.VirtualSizeBytes, KernelVolume: in.KernelVolume, InitrdVolume: in.InitrdVolume,
		KernelCmdline: in.KernelCmdline,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/images/"+img.ID)
	return c.JSON(http.StatusCreated, toAPIImage(img))
}

// APIGetImage answers GET /api/v1/images/{id}: members see ready disk
// images, admins every image (an upload's import shows in its status).
func (h *Handler) APIGetImage(c echo.Context) error {
	img, err := h.Images.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIImage(img))
}

// APIDeleteImage answers DELETE /api/v1/images/{id} (admins): an image no
// VM was made from is deleted (204); one VMs were made from is retired
// and comes back with retired true (200).
func (h *Handler) APIDeleteImage(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	img, err := h.Images.Get(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	retired, err := h.Images.Delete(ctx, actor(c), v, img.ID)
	if err != nil {
		return err
	}
	if !retired {
		return c.NoContent(http.StatusNoContent)
	}
	out := toAPIImage(img)
	out.Retired = true
	return c.JSON(http.StatusOK, out)
}

// APIAddHost answers POST /api/v1/hosts (admins): the host is recorded and
// its first inventory read queued; GET /hosts shows when it arrived.
func (h *Handler) APIAddHost(c echo.Context) error {
	var in struct {
		Name string `json:"name"`
		URI  string `json:"uri"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	host, err := h.Hosts.Add(c.Request().Context(), actor(c), compute.HostInput{Name: in.Name, URI: in.URI})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/hosts/"+host.ID)
	return c.JSON(http.StatusCreated, toAPIHost(host))
}

// APIGetHost answers GET /api/v1/hosts/{id} (admins).
func (h *Handler) APIGetHost(c echo.Context) error {
	host, err := h.Hosts.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIHost(host))
}

// APIRefreshHost answers POST /api/v1/hosts/{id}/refresh (admins): a new
// inventory read is queued.
func (h *Handler) APIRefreshHost(c echo.Context) error {
	if err := h.Hosts.RequestRefresh(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

// apiHostSettings is the JSON shape of a host's VM settings.
type apiHostSettings struct {
	CPUOvercommitPercent    int    `json:"cpu_overcommit_percent"`
	MemoryOvercommitPercent int    `json:"memory_overcommit_percent"`
	DomainType              string `json:"domain_type"`
}

// APIHostSettings answers GET /api/v1/hosts/{id}/settings (admins).
func (h *Handler) APIHostSettings(c echo.Context) error {
	s, err := h.HostSettings.VMSettings(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiHostSettings{CPUOvercommitPercent: s.CPUOvercommitPercent,
		MemoryOvercommitPercent: s.MemoryOvercommitPercent, DomainType: s.DomainType})
}

// APISetHostSettings answers PUT /api/v1/hosts/{id}/settings (admins); an
// empty domain_type lets the worker choose kvm where the host offers it.
func (h *Handler) APISetHostSettings(c echo.Context) error {
	var in apiHostSettings
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	err := h.HostSettings.SetVMSettings(ctx, actor(c), viewer(CurrentUser(c)), c.Param("id"), compute.HostVMSettings{
		CPUOvercommitPercent: in.CPUOvercommitPercent, MemoryOvercommitPercent: in.MemoryOvercommitPercent, DomainType: in.DomainType})
	if err != nil {
		return err
	}
	return h.APIHostSettings(c)
}

// apiDrain is the answer of POST /api/v1/hosts/{id}/drain.
type apiDrain struct {
	Started []apiDrainTask    `json:"started"`
	Refused []apiDrainRefusal `json:"refused"`
}

type apiDrainTask struct {
	VMID   string `json:"vm_id"`
	VMName string `json:"vm_name"`
	TaskID string `json:"task_id"`
	To     string `json:"to"`
}

type apiDrainRefusal struct {
	VMID   string `json:"vm_id"`
	VMName string `json:"vm_name"`
	Reason string `json:"reason"`
}

// APIDrainHost answers POST /api/v1/hosts/{id}/drain (admins): every VM on
// the host that can be switched over to its replica is; the others are
// listed with the reason.
func (h *Handler) APIDrainHost(c echo.Context) error {
	if h.Replicas == nil {
		return models.NotFoundError("host")
	}
	started, refused, err := h.Replicas.Drain(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	out := apiDrain{Started: []apiDrainTask{}, Refused: []apiDrainRefusal{}}
	for _, s := range started {
		out.Started = append(out.Started, apiDrainTask{VMID: s.VMID, VMName: s.VMName, TaskID: s.TaskID, To: s.To})
	}
	for _, r := range refused {
		out.Refused = append(out.Refused, apiDrainRefusal{VMID: r.VMID, VMName: r.VMName, Reason: r.Reason})
	}
	return c.JSON(http.StatusAccepted, out)
}

// APIUploadImage answers POST /api/v1/images/upload (admins): the body is
// the image file itself (application/octet-stream), the image's fields are
// query parameters, as on the upload form. The file streams to disk under
// the upload limit; then the image is recorded and its import queued in
// one transaction (202: GET /images/{id} shows when it is ready). A kernel
// or initrd upload (kind) is never offered to members as an image.
func (h *Handler) APIUploadImage(c echo.Context) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != echo.MIMEOctetStream {
		return &models.Error{Code: http.StatusUnsupportedMediaType, Safe: "send the image file as application/octet-stream"}
	}
	req.Body = http.MaxBytesReader(c.Response().Writer, req.Body, MaxImageUpload)
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(imageUploadTime))
	q := c.QueryParams()
	for name, vs := range q {
		if !isUploadField(name) {
			return models.BadQuery(name, "Unknown parameter "+name+".")
		}
		if len(vs) != 1 || len(vs[0]) > maxUploadField {
			return models.BadQuery(name, "Give "+name+" once, at most 4 KiB long.")
		}
	}
	path, err := h.spool(req.Body)
	if err != nil {
		return err
	}
	if path == "" {
		return models.Invalid(map[string]string{"file": "Send the image file as the body."})
	}
	img, err := h.Images.BeginUpload(req.Context(), actor(c), viewer(CurrentUser(c)), compute.UploadInput{
		Name: q.Get("name"), HostID: q.Get("host_id"), Pool: q.Get("pool"), Format: q.Get("format"), Path: path,
		Kind: compute.ImageKind(q.Get("kind")), KernelImageID: q.Get("kernel_image_id"), InitrdImageID: q.Get("initrd_image_id"),
		KernelCmdline: q.Get("kernel_cmdline"),
	})
	if err != nil {
		if rerr := os.Remove(path); rerr != nil && h.Log != nil {
			h.Log.Warn("remove failed upload", "path", path, "err", rerr)
		}
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/images/"+img.ID)
	return c.JSON(http.StatusAccepted, toAPIImage(img))
}
