package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"allmende/models"
	"allmende/models/compute"
)

// TestAdminPagesInBothLanguages: every admins' page (hosts, a host's VM
// settings and failover, plans, images, networks, drift, getting started,
// replication) and each of their forms sent back with errors reads
// differently in German and English in every visible text, but for the
// test's own data.
func TestAdminPagesInBothLanguages(t *testing.T) {
	w, vm := replicatedWorld(t)
	ctx := context.Background()
	u, err := w.d.accounts.ByEmail(ctx, "admin@example.org")
	if err != nil {
		t.Fatal(err)
	}
	admin, av := models.Actor{UserID: u.ID, Email: u.Email}, models.Viewer{UserID: u.ID, Admin: true}
	var host compute.Host
	if err := w.d.db.Gorm.First(&host, "name = ?", vm.HostName).Error; err != nil {
		t.Fatal(err)
	}
	net, err := compute.NewNetworks(w.d.db).Create(ctx, admin, av, compute.NetworkInput{HostID: host.ID, Name: "lan",
		LibvirtNetwork: "default", CIDR: "192.168.122.0/24", Gateway: "192.168.122.1", DNS: []string{"192.168.122.1"}})
	if err != nil {
		t.Fatal(err)
	}
	// A retired plan and a copy that has been good once, so that their
	// badges and times show.
	if err := w.d.db.Gorm.Exec("UPDATE plans SET retired_at = CURRENT_TIMESTAMP WHERE id = ?", w.big.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := w.d.db.Gorm.Exec("UPDATE vm_replicas SET state = 'good', last_good_at = CURRENT_TIMESTAMP WHERE vm_id = ?", vm.ID).Error; err != nil {
		t.Fatal(err)
	}
	// The VM's host stops answering: its failover page offers the form.
	if err := w.d.db.Gorm.Exec("UPDATE hosts SET reachable = ?, last_error = ? WHERE id = ?", false, "dial unix: connection refused", host.ID).Error; err != nil {
		t.Fatal(err)
	}
	same := []string{"node-a", "node-b", "small", "big", "debian-13", "web", "lan", "default", "192.168.122.0/24",
		"192.168.122.1", "dial unix: connection refused", "debian-13.qcow2", "qcow2", "raw", "kvm", "/", "VM", "vCPUs", "CIDR", "DNS", "URI", "Pool", "0 / 0 MiB",
		// Words German shares with English.
		"Host", "Hosts · Allmende", "CPUs", "Kernel", "Initrd", "Volume", "Format", "Gateway", "Bridge", "Standby", "VMs", "Failover · Allmende"}

	for _, p := range []string{"/admin/hosts", "/admin/hosts/" + host.ID + "/settings", "/admin/hosts/" + host.ID + "/failover",
		"/admin/plans", "/admin/plans/" + w.small.ID, "/admin/images", "/admin/networks", "/admin/networks/" + net.ID,
		"/admin/drift", "/admin/setup", "/admin/replication", "/admin/replication?filter=lagging", "/admin/logins", "/admin/outbox"} {
		checkBothLanguages(t, w.admin, w.base, p, same...)
	}

	// Forms sent back with their errors.
	for _, f := range []struct {
		page, action string
		form         url.Values
	}{
		{"/admin/hosts", "/admin/hosts", url.Values{"name": {"Not A Name"}, "uri": {"http://example.org"}}},
		{"/admin/plans", "/admin/plans", url.Values{"name": {""}, "vcpus": {"0"}, "memory_mib": {"1"}, "disk_gib": {"0"}}},
		{"/admin/plans", "/admin/plans", url.Values{"name": {"x"}, "vcpus": {"many"}, "memory_mib": {"1024"}, "disk_gib": {"10"}}},
		{"/admin/plans/" + w.small.ID, "/admin/plans/" + w.small.ID, url.Values{"name": {strings.Repeat("n", 60)}, "vcpus": {"999"}, "memory_mib": {"1"}, "disk_gib": {"1"}}},
		{"/admin/images", "/admin/images", url.Values{"name": {""}, "host_id": {""}, "pool": {"bad pool"}, "volume": {"bad volume"},
			"format": {"vmdk"}, "virtual_size": {"1"}, "initrd_volume": {"initrd.img"}, "kernel_cmdline": {"console=ttyS0"}}},
		{"/admin/images", "/admin/images", url.Values{"name": {"x"}, "host_id": {host.ID}, "pool": {"default"}, "volume": {"v"},
			"format": {"raw"}, "virtual_size": {"lots"}}},
		{"/admin/networks", "/admin/networks", url.Values{"host_id": {""}, "name": {"bad name"}, "libvirt_network": {"default"}, "bridge": {"br0"},
			"cidr": {"10.0.0.1/24"}, "gateway": {"gateway"}, "dns": {"resolver"}}},
		{"/admin/networks/" + net.ID, "/admin/networks/" + net.ID, url.Values{"name": {"lan"}, "libvirt_network": {""}, "bridge": {""},
			"cidr": {"10.0.0.0/8"}, "dns": {"1.1.1.1, 8.8.8.8, 9.9.9.9, 1.0.0.1"}}},
		{"/admin/hosts/" + host.ID + "/settings", "/admin/hosts/" + host.ID + "/settings", url.Values{"cpu_overcommit_percent": {"5"},
			"memory_overcommit_percent": {"9000"}, "domain_type": {"xen"}}},
		{"/admin/hosts/" + host.ID + "/failover", "/admin/hosts/" + host.ID + "/failover", url.Values{"host_name": {"other"}}},
		{"/admin/setup", "/admin/setup", url.Values{"host_id": {""}}},
		{"/admin/replication", "/admin/replication/plans/" + w.small.ID, url.Values{"interval_seconds": {"5"}}},
		{"/admin/replication", "/admin/replication/vms/" + vm.ID + "/host", url.Values{"replica_host_id": {host.ID}}},
	} {
		checkFormBothLanguages(t, w.admin, w.base, f.page, f.action, f.form, same...)
	}

	// A success is told in the reader's language too, values filled in.
	f := url.Values{"name": {"tiny"}, "vcpus": {"1"}, "memory_mib": {"512"}, "disk_gib": {"5"}, "_csrf": {w.admin.csrf("/admin/plans")}}
	req, _ := http.NewRequest(http.MethodPost, w.base+"/admin/plans", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "de")
	resp, _ := w.admin.do(req)
	wantStatus(t, resp, http.StatusSeeOther)
	req, _ = http.NewRequest(http.MethodGet, w.base+"/admin/plans", nil)
	req.Header.Set("Accept-Language", "de")
	_, body := w.admin.do(req)
	wantContains(t, body, "Tarif tiny angelegt.")
}

// checkFormBothLanguages posts a form that comes back with its errors and
// wants them shown, in both languages.
func checkFormBothLanguages(t *testing.T, c *client, base, page, action string, form url.Values, same ...string) {
	t.Helper()
	for lang, body := range postBothLanguages(t, c, base, page, action, 0, form, same...) {
		if !strings.Contains(body, `class="field-error"`) && !strings.Contains(body, `class="flash error"`) {
			t.Errorf("POST %s in %s: no error shown", action, lang)
		}
	}
}
