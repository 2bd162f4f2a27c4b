package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"allmende/hypervisor"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/web"
)

// virshFacts reads what virsh itself reports for a host.
func virshFacts(t *testing.T, uri string) (cpus int64, memBytes int64, libvirtV, qemuV string) {
	t.Helper()
	run := func(args ...string) string {
		out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("virsh %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	node := run("nodeinfo")
	if m := regexp.MustCompile(`CPU\(s\):\s+(\d+)`).FindStringSubmatch(node); m != nil {
		cpus, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := regexp.MustCompile(`Memory size:\s+(\d+) KiB`).FindStringSubmatch(node); m != nil {
		kib, _ := strconv.ParseInt(m[1], 10, 64)
		memBytes = kib * 1024
	}
	ver := run("version")
	if m := regexp.MustCompile(`Using library: libvirt (\S+)`).FindStringSubmatch(ver); m != nil {
		libvirtV = m[1]
	}
	if m := regexp.MustCompile(`Running hypervisor: QEMU (\S+)`).FindStringSubmatch(ver); m != nil {
		qemuV = m[1]
	}
	if cpus == 0 || memBytes == 0 || libvirtV == "" || qemuV == "" {
		t.Fatalf("could not parse virsh output:\n%s\n%s", node, ver)
	}
	return
}

type apiHosts struct {
	Hosts []struct {
		ID             string `json:"id"`
		Name           string `json:"name"`
		URI            string `json:"uri"`
		Reachable      bool   `json:"reachable"`
		RefreshedAt    *time.Time
		CPUs           int64  `json:"cpus"`
		MemoryBytes    int64  `json:"memory_bytes"`
		LibvirtVersion string `json:"libvirt_version"`
		QEMUVersion    string `json:"qemu_version"`
		Pools          []compute.HostPool
	} `json:"hosts"`
}

// The private libvirtd started by --libvirt auto is registered as host
// "local", and the refresh job stores exactly what virsh reports.
func TestLocalHostInventoryMatchesVirsh(t *testing.T) {
	srv, base, cfg := startServer(t, "auto")
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	token := adminToken(t, cfg)
	c := newClient(t, base)

	var hosts apiHosts
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := c.api(http.MethodGet, "/api/v1/hosts", token)
		hosts = apiHosts{}
		if err := json.Unmarshal([]byte(body), &hosts); err != nil {
			t.Fatalf("hosts: %v: %s", err, body)
		}
		if len(hosts.Hosts) == 1 && hosts.Hosts[0].Reachable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host local not refreshed in time: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	h := hosts.Hosts[0]
	if h.Name != "local" {
		t.Errorf("host name %q", h.Name)
	}
	cpus, mem, lv, qv := virshFacts(t, h.URI)
	// Total memory was stored by the refresh job and read by virsh at
	// another moment; on a machine whose memory changes meanwhile (a
	// ballooned VM) the two differ a little, so that is compared within 2 %.
	if h.CPUs != cpus || !roughlyEqual(h.MemoryBytes, mem) || h.LibvirtVersion != lv || h.QEMUVersion != qv {
		t.Errorf("stored inventory cpus=%d mem=%d libvirt=%s qemu=%s; virsh says %d %d %s %s",
			h.CPUs, h.MemoryBytes, h.LibvirtVersion, h.QEMUVersion, cpus, mem, lv, qv)
	}
	if len(h.Pools) != 1 || h.Pools[0].Name != "default" || h.Pools[0].Path != filepath.Join(cfg.DataDir, "libvirt", "pools", "default") {
		t.Errorf("pools = %+v", h.Pools)
	}

	resp, body := c.api(http.MethodGet, "/readyz", testMetricsToken)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"host local":"ok"`)

	// The admin's refresh is audited and becomes a job.
	c.login("admin@example.org", "correct horse battery")
	resp, _ = c.submit("/admin/hosts", "/admin/hosts/"+h.ID+"/refresh", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/admin/audit?action=host.refresh")
	wantContains(t, body, "admin@example.org", "host.refresh")
	_, body = c.get("/admin/hosts")
	wantContains(t, body, `data-host="local"`, `<dd class="cpus">`+strconv.FormatInt(cpus, 10)+`</dd>`, lv, qv)

	// Adding a host with a bad URI is refused with a field error.
	resp, body = c.submit("/admin/hosts", "/admin/hosts", url.Values{"name": {"node2"}, "uri": {"http://example.org"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Not a libvirt URI")
}

// An unreachable host makes /readyz fail and is shown as such.
func TestUnreachableHost(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	c := newClient(t, base)
	c.login("admin@example.org", "correct horse battery")
	sock := filepath.Join(cfg.DataDir, "nothing-here.sock")
	resp, _ := c.submit("/admin/hosts", "/admin/hosts", url.Values{"name": {"ghost"}, "uri": {"qemu+unix:///system?socket=" + sock}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body := c.api(http.MethodGet, "/readyz", testMetricsToken)
	wantStatus(t, resp, http.StatusServiceUnavailable)
	wantContains(t, body, `"host ghost"`, `"status":"not ready"`)
}

// Shutdown leaves the private libvirtd running (guests must outlive the
// portal); `allmende libvirtd stop` (hypervisor.StopDaemon) ends it, and
// then no daemon is left for the data dir.
func TestShutdownLeavesPrivateLibvirtd(t *testing.T) {
	dir, err := os.MkdirTemp("", "alm-stop")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"), Libvirt: "auto", Workers: 1}
	srv, err := web.New(context.Background(), cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer hypervisor.StopDaemon(web.LibvirtDir(dir), quietLogger())
	if _, err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	running := processesWith(t, dir)
	if len(running) == 0 {
		t.Fatal("no libvirtd process found for the data dir while running")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := processesWith(t, dir); !slices.Equal(after, running) {
		t.Errorf("daemon processes after shutdown %v, want the same as before %v", after, running)
	}
	st, err := hypervisor.StatusOf(web.LibvirtDir(dir))
	if err != nil || !st.Answering {
		t.Errorf("after shutdown the private libvirtd does not answer: %+v %v", st, err)
	}

	if err := hypervisor.StopDaemon(web.LibvirtDir(dir), quietLogger()); err != nil {
		t.Fatal(err)
	}
	if p := processesWith(t, dir); len(p) > 0 {
		t.Errorf("processes left after libvirtd stop: %v", p)
	}
}

// roughlyEqual compares amounts of host memory read at different moments.
func roughlyEqual(a, b int64) bool {
	d := max(a, b) - min(a, b)
	return d*50 <= max(a, b)
}

func processesWith(t *testing.T, s string) []string {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, s) && (strings.Contains(cmd, "libvirtd") || strings.Contains(cmd, "virtlogd")) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}

// adminToken issues a token through the command-line code path's service.
func adminToken(t *testing.T, cfg *web.Config) string {
	t.Helper()
	db, err := models.Open(cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := account.NewAccounts(db)
	u, err := a.ByEmail(context.Background(), "admin@example.org")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := account.NewTokens(db, a).Create(context.Background(), models.SystemActor("test"), u.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}
