package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"allmende/models/account"
)

// decodeInto fails the test unless body is JSON that fits dst.
func decodeInto(t *testing.T, body string, dst any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), dst); err != nil {
		t.Fatalf("answer is not the expected JSON: %v\n%s", err, body)
	}
}

// wantFieldError checks a 422 names the field.
func wantFieldError(t *testing.T, resp *http.Response, body, field string) {
	t.Helper()
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if e := decodeAPIError(t, body); e.Code != "invalid" || e.Fields[field] == "" {
		t.Errorf("422 without a message for %s: %+v", field, e)
	}
}

// The admins' plan pages have an API twin: create, read, change, delete a
// plan no VM used; a member is refused, bad sizes get field messages.
func TestAdminAPIPlans(t *testing.T) {
	srv, c, _, cfg := adminWithHost(t)
	createUser(t, srv, "member@example.org", account.RoleMember)
	d := openDomain(t, cfg)
	admin, member := tokenFor(t, d, "admin@example.org"), tokenFor(t, d, "member@example.org")

	var body string
	resp, _ := apiJSON(c, http.MethodPost, "/api/v1/plans", member, `{"name":"small","vcpus":1,"memory_mib":1024,"disk_gib":10}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/plans", admin, `{"name":"small","vcpus":0,"memory_mib":1024,"disk_gib":10}`)
	wantFieldError(t, resp, body, "vcpus")
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/plans", admin, `{"name":"small","vcpus":"one","memory_mib":1024,"disk_gib":10}`)
	wantStatus(t, resp, http.StatusBadRequest)

	resp, body = apiJSON(c, http.MethodPost, "/api/v1/plans", admin, `{"name":"small","vcpus":1,"memory_mib":1024,"disk_gib":10}`)
	wantStatus(t, resp, http.StatusCreated)
	var plan struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		VCPUs   int    `json:"vcpus"`
		Retired bool   `json:"retired"`
	}
	decodeInto(t, body, &plan)
	if plan.Name != "small" || plan.VCPUs != 1 || resp.Header.Get("Location") != "/api/v1/plans/"+plan.ID {
		t.Errorf("created plan %+v, Location %q", plan, resp.Header.Get("Location"))
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/plans", admin, `{"name":"small","vcpus":2,"memory_mib":1024,"disk_gib":10}`)
	wantFieldError(t, resp, body, "name")

	resp, body = apiJSON(c, http.MethodPut, "/api/v1/plans/"+plan.ID, admin, `{"name":"small-2","vcpus":2,"memory_mib":2048,"disk_gib":20}`)
	wantStatus(t, resp, http.StatusOK)
	decodeInto(t, body, &plan)
	if plan.Name != "small-2" || plan.VCPUs != 2 {
		t.Errorf("changed plan %+v", plan)
	}
	resp, _ = apiJSON(c, http.MethodPut, "/api/v1/plans/"+plan.ID, member, `{"name":"x","vcpus":2,"memory_mib":2048,"disk_gib":20}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPut, "/api/v1/plans/"+plan.ID, admin, `{"name":"small-2","vcpus":2,"memory_mib":64,"disk_gib":20}`)
	wantFieldError(t, resp, body, "memory_mib")

	// Members see the plan on offer, by id too.
	resp, body = c.api(http.MethodGet, "/api/v1/plans/"+plan.ID, member)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"small-2"`)

	resp, _ = apiJSON(c, http.MethodDelete, "/api/v1/plans/"+plan.ID, member, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodDelete, "/api/v1/plans/"+plan.ID, admin, "")
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = c.api(http.MethodGet, "/api/v1/plans/"+plan.ID, admin)
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = apiJSON(c, http.MethodDelete, "/api/v1/plans/"+plan.ID, admin, "")
	wantStatus(t, resp, http.StatusNotFound)
}

// Networks: the admins' network page through the API.
func TestAdminAPINetworks(t *testing.T) {
	srv, c, hostID, cfg := adminWithHost(t)
	createUser(t, srv, "member@example.org", account.RoleMember)
	d := openDomain(t, cfg)
	admin, member := tokenFor(t, d, "admin@example.org"), tokenFor(t, d, "member@example.org")

	lan := `{"host_id":"` + hostID + `","name":"lan","bridge":"br0","cidr":"10.0.0.0/24","gateway":"10.0.0.1","dns":["9.9.9.9","1.1.1.1"]}`
	resp, _ := apiJSON(c, http.MethodPost, "/api/v1/networks", member, lan)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body := apiJSON(c, http.MethodPost, "/api/v1/networks", admin, `{"host_id":"`+hostID+`","name":"lan","bridge":"br0","cidr":"10.0.0.1/24"}`)
	wantFieldError(t, resp, body, "cidr")
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/networks", admin, lan)
	wantStatus(t, resp, http.StatusCreated)
	var n struct {
		ID      string   `json:"id"`
		HostID  string   `json:"host_id"`
		Gateway string   `json:"gateway"`
		DNS     []string `json:"dns"`
	}
	decodeInto(t, body, &n)
	if n.HostID != hostID || n.Gateway != "10.0.0.1" || len(n.DNS) != 2 {
		t.Errorf("network %+v", n)
	}

	resp, body = c.api(http.MethodGet, "/api/v1/networks?host_id="+hostID, admin)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, n.ID)
	resp, _ = c.api(http.MethodGet, "/api/v1/networks", member)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = c.api(http.MethodGet, "/api/v1/networks/"+n.ID, admin)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"br0"`)

	resp, body = apiJSON(c, http.MethodPut, "/api/v1/networks/"+n.ID, admin, `{"name":"lan","bridge":"br1","cidr":"10.0.0.0/24","gateway":"10.0.0.254"}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"br1"`, `"10.0.0.254"`)
	resp, body = apiJSON(c, http.MethodPut, "/api/v1/networks/"+n.ID, admin, `{"name":"lan","bridge":"br1","libvirt_network":"default","cidr":"10.0.0.0/24"}`)
	wantFieldError(t, resp, body, "libvirt_network")
	// The host of a network never changes.
	resp, _ = apiJSON(c, http.MethodPut, "/api/v1/networks/"+n.ID, admin, `{"host_id":"`+hostID+`","name":"lan","bridge":"br1","cidr":"10.0.0.0/24"}`)
	wantStatus(t, resp, http.StatusBadRequest)

	resp, _ = apiJSON(c, http.MethodDelete, "/api/v1/networks/"+n.ID, member, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodDelete, "/api/v1/networks/"+n.ID, admin, "")
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = c.api(http.MethodGet, "/api/v1/networks/"+n.ID, admin)
	wantStatus(t, resp, http.StatusNotFound)
}

// Images: registering a volume, uploading a kernel (never offered to
// members), deleting; hosts: adding, refreshing, VM settings, draining.
func TestAdminAPIImagesAndHosts(t *testing.T) {
	srv, c, hostID, cfg := adminWithHost(t)
	createUser(t, srv, "member@example.org", account.RoleMember)
	d := openDomain(t, cfg)
	admin, member := tokenFor(t, d, "admin@example.org"), tokenFor(t, d, "member@example.org")

	img := `{"name":"debian","host_id":"` + hostID + `","pool":"default","volume":"debian.qcow2","format":"qcow2","virtual_size_bytes":2147483648}`
	resp, _ := apiJSON(c, http.MethodPost, "/api/v1/images", member, img)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body := apiJSON(c, http.MethodPost, "/api/v1/images", admin, strings.Replace(img, `"qcow2"`, `"vmdk"`, 1))
	wantFieldError(t, resp, body, "format")
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/images", admin, img)
	wantStatus(t, resp, http.StatusCreated)
	var image struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Kind   string `json:"kind"`
	}
	decodeInto(t, body, &image)
	if image.Status != "ready" || image.Kind != "disk" {
		t.Errorf("registered image %+v", image)
	}
	resp, _ = c.api(http.MethodGet, "/api/v1/images/"+image.ID, member)
	wantStatus(t, resp, http.StatusOK)

	// An upload: the file is the body, the fields are the query.
	upload := func(token, query, contentType, file string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, c.base+"/api/v1/images/upload?"+query, strings.NewReader(file))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", contentType)
		return c.do(req)
	}
	kernelQuery := "name=vmlinuz&host_id=" + hostID + "&pool=default&format=raw&kind=kernel"
	resp, _ = upload(member, kernelQuery, "application/octet-stream", "kernel bytes")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = upload(admin, kernelQuery, "application/json", `"kernel bytes"`)
	wantStatus(t, resp, http.StatusUnsupportedMediaType)
	resp, body = upload(admin, kernelQuery, "application/octet-stream", "")
	wantFieldError(t, resp, body, "file")
	resp, body = upload(admin, "name=vmlinuz&host_id="+hostID+"&pool=default&format=raw&kind=firmware", "application/octet-stream", "kernel bytes")
	wantFieldError(t, resp, body, "kind")
	resp, _ = upload(admin, kernelQuery+"&colour=blue", "application/octet-stream", "kernel bytes")
	wantStatus(t, resp, http.StatusBadRequest)
	resp, body = upload(admin, kernelQuery, "application/octet-stream", "kernel bytes")
	wantStatus(t, resp, http.StatusAccepted)
	var kernel struct {
		ID     string `json:"id"`
		Kind   string `json:"kind"`
		Status string `json:"status"`
	}
	decodeInto(t, body, &kernel)
	if kernel.Kind != "kernel" || kernel.Status != "uploading" {
		t.Errorf("uploaded kernel %+v", kernel)
	}
	resp, _ = c.api(http.MethodGet, "/api/v1/images/"+kernel.ID, member)
	wantStatus(t, resp, http.StatusNotFound)
	_, body = c.api(http.MethodGet, "/api/v1/images", member)
	if strings.Contains(body, kernel.ID) {
		t.Error("a kernel is offered to members as an image")
	}

	resp, _ = apiJSON(c, http.MethodDelete, "/api/v1/images/"+image.ID, member, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodDelete, "/api/v1/images/"+image.ID, admin, "")
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = apiJSON(c, http.MethodDelete, "/api/v1/images/"+image.ID, admin, "")
	wantStatus(t, resp, http.StatusNotFound)

	// Hosts.
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/hosts", member, `{"name":"kvm2","uri":"qemu+tcp://127.0.0.1:1/system"}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/hosts", admin, `{"name":"kvm 2","uri":"qemu+tcp://127.0.0.1:1/system"}`)
	wantFieldError(t, resp, body, "name")
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/hosts", admin, `{"name":"kvm1","uri":"qemu+tcp://127.0.0.1:1/system"}`)
	wantFieldError(t, resp, body, "name")
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/hosts", admin, `{"name":"KVM2","uri":"qemu+tcp://127.0.0.1:1/system"}`)
	wantStatus(t, resp, http.StatusCreated)
	var host struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	decodeInto(t, body, &host)
	if host.Name != "kvm2" {
		t.Errorf("added host %+v", host)
	}
	resp, _ = c.api(http.MethodGet, "/api/v1/hosts/"+host.ID, admin)
	wantStatus(t, resp, http.StatusOK)
	resp, _ = c.api(http.MethodGet, "/api/v1/hosts/"+host.ID, member)
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/hosts/"+host.ID+"/refresh", admin, "")
	wantStatus(t, resp, http.StatusAccepted)
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/hosts/"+host.ID+"/refresh", member, "")
	wantStatus(t, resp, http.StatusForbidden)

	resp, body = c.api(http.MethodGet, "/api/v1/hosts/"+hostID+"/settings", admin)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"cpu_overcommit_percent":400`)
	resp, body = apiJSON(c, http.MethodPut, "/api/v1/hosts/"+hostID+"/settings", admin, `{"cpu_overcommit_percent":50,"memory_overcommit_percent":100,"domain_type":""}`)
	wantFieldError(t, resp, body, "cpu_overcommit_percent")
	resp, _ = apiJSON(c, http.MethodPut, "/api/v1/hosts/"+hostID+"/settings", member, `{"cpu_overcommit_percent":200,"memory_overcommit_percent":100,"domain_type":"qemu"}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPut, "/api/v1/hosts/"+hostID+"/settings", admin, `{"cpu_overcommit_percent":200,"memory_overcommit_percent":100,"domain_type":"qemu"}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"cpu_overcommit_percent":200`, `"domain_type":"qemu"`)

	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/hosts/"+hostID+"/drain", member, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/hosts/"+hostID+"/drain", admin, "")
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNotFound {
		t.Errorf("drain: %d %s", resp.StatusCode, body)
	}
}
