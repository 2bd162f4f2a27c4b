package hypervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRigOptionsZeroChangeNothing(t *testing.T) {
	var o DaemonOptions
	got, err := o.resolve(t.TempDir())
	if err != nil || !got.zero() {
		t.Fatalf("resolve of zero options: %+v, %v", got, err)
	}
	if o.libvirtdConf() != "" || o.qemuConf() != "" {
		t.Errorf("zero options add config: %q %q", o.libvirtdConf(), o.qemuConf())
	}
	etc := t.TempDir()
	if err := o.writeQEMUConf(t.TempDir(), etc); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(etc, "qemu.conf")); !os.IsNotExist(err) {
		t.Errorf("zero options wrote qemu.conf: %v", err)
	}
}

func TestRigOptionsHostUUIDStable(t *testing.T) {
	dir := t.TempDir()
	o := RigHostOptions(1, 16610)
	first, err := o.resolve(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !uuidRE.MatchString(first.HostUUID) {
		t.Fatalf("generated host UUID %q", first.HostUUID)
	}
	again, err := o.resolve(dir)
	if err != nil || again.HostUUID != first.HostUUID {
		t.Errorf("second resolve: %q, %v; want %q", again.HostUUID, err, first.HostUUID)
	}
	if other, _ := o.resolve(t.TempDir()); other.HostUUID == first.HostUUID {
		t.Errorf("two dirs got the same host UUID %s", other.HostUUID)
	}
	conf := first.libvirtdConf()
	for _, want := range []string{"listen_tcp = 1", `listen_addr = "127.0.0.1"`, `tcp_port = "16611"`,
		`auth_tcp = "none"`, `host_uuid = "` + first.HostUUID + `"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("libvirtd.conf lacks %s:\n%s", want, conf)
		}
	}
	machine := t.TempDir()
	if err := os.WriteFile(filepath.Join(machine, "qemu.conf"), []byte("user = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	etc := t.TempDir()
	if err := first.writeQEMUConf(machine, etc); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(etc, "qemu.conf"))
	for _, want := range []string{"migration_port_min = 49400\nmigration_port_max = 49499", "remote_display_port_min = 6100",
		"cgroup_controllers = [ ]", `user = "x"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("qemu.conf lacks %q:\n%s", want, b)
		}
	}
}

func TestRigOptionsRejected(t *testing.T) {
	for _, o := range []DaemonOptions{
		{TCPPort: 70000},
		{TCPPort: 1, MigrationPorts: [2]int{50, 40}},
		{TCPPort: 1, DisplayPorts: [2]int{5000, 5100}},
		{TCPPort: 1, HostUUID: "not-a-uuid"},
	} {
		if _, err := o.resolve(t.TempDir()); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
