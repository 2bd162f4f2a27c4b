package hypervisor_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kdomanski/iso9660"

	"allmende/hypervisor"
)

// hostileKey is a valid one-line value full of YAML syntax: quoting must
// keep it one string.
const hostileKey = `ssh-ed25519 AAAAC3Nz "quoted" key: #not-a-comment {x: [1]} & *a !tag \back`

func testSeed() hypervisor.Seed {
	return hypervisor.Seed{
		InstanceID: "i-0f3a",
		Hostname:   "vm-1.example.org",
		SSHKeys:    []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx alice@laptop", hostileKey},
		Network: &hypervisor.SeedNetwork{
			MAC:     "52:54:00:AB:cd:01",
			Address: "10.1.2.3/24",
			Gateway: "10.1.2.1",
			DNS:     []string{"9.9.9.9", "2620:fe::fe"},
		},
	}
}

func TestBuildSeedISO(t *testing.T) {
	t.Parallel()
	iso, err := hypervisor.BuildSeedISO(testSeed())
	if err != nil {
		t.Fatal(err)
	}
	img, err := iso9660.OpenImage(bytes.NewReader(iso))
	if err != nil {
		t.Fatal(err)
	}
	if label, err := img.Label(); err != nil || label != "cidata" {
		t.Errorf("label = %q, %v; want cidata", label, err)
	}
	files := isoFiles(t, img)
	if len(files) != 3 {
		t.Errorf("files: %v, want meta-data, user-data, network-config", keys(files))
	}

	wantMeta := map[string]any{
		"instance-id":    "i-0f3a",
		"local-hostname": "vm-1.example.org",
		"public-keys":    []any{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx alice@laptop", hostileKey},
	}
	wantUser := map[string]any{
		"ssh_authorized_keys": []any{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx alice@laptop", hostileKey},
	}
	wantNet := map[string]any{
		"version": 2.0,
		"ethernets": map[string]any{"eth0": map[string]any{
			"match":       map[string]any{"macaddress": "52:54:00:ab:cd:01"},
			"set-name":    "eth0",
			"addresses":   []any{"10.1.2.3/24"},
			"routes":      []any{map[string]any{"to": "0.0.0.0/0", "via": "10.1.2.1"}},
			"nameservers": map[string]any{"addresses": []any{"9.9.9.9", "2620:fe::fe"}},
		}},
	}
	if !strings.HasPrefix(files["user-data"], "#cloud-config\n") {
		t.Errorf("user-data does not start with #cloud-config:\n%s", files["user-data"])
	}
	for name, want := range map[string]map[string]any{"meta-data": wantMeta, "user-data": wantUser, "network-config": wantNet} {
		text, ok := files[name]
		if !ok {
			t.Errorf("no %s in the ISO", name)
			continue
		}
		got, ok := parseYAML(t, text)
		if !ok {
			// Without a YAML parser, at least the values must be there.
			if !strings.Contains(text, `"10.1.2.3/24"`) && !strings.Contains(text, `"i-0f3a"`) && !strings.Contains(text, "ssh-ed25519") {
				t.Errorf("%s lacks expected values:\n%s", name, text)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s parsed as\n%#v\nwant\n%#v\n--- text ---\n%s", name, got, want, text)
		}
	}
	checkWithIsoinfo(t, iso)
}

func TestSeedUserDataAndDHCP(t *testing.T) {
	t.Parallel()
	s := testSeed()
	s.UserData = "#!/bin/sh\necho hi\n"
	s.Network = &hypervisor.SeedNetwork{MAC: "52:54:00:00:00:01"}
	iso, err := hypervisor.BuildSeedISO(s)
	if err != nil {
		t.Fatal(err)
	}
	img, err := iso9660.OpenImage(bytes.NewReader(iso))
	if err != nil {
		t.Fatal(err)
	}
	files := isoFiles(t, img)
	if files["user-data"] != s.UserData {
		t.Errorf("user-data = %q, want the caller's unchanged", files["user-data"])
	}
	if !strings.Contains(files["network-config"], "dhcp4: true") {
		t.Errorf("network-config without address is not DHCP:\n%s", files["network-config"])
	}

	s.Network = nil
	iso, err = hypervisor.BuildSeedISO(s)
	if err != nil {
		t.Fatal(err)
	}
	img, err = iso9660.OpenImage(bytes.NewReader(iso))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := isoFiles(t, img)["network-config"]; ok {
		t.Error("network-config written without a network")
	}
}

func TestSeedRejectsBadInput(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*hypervisor.Seed){
		"no instance ID":      func(s *hypervisor.Seed) { s.InstanceID = "" },
		"hostname with space": func(s *hypervisor.Seed) { s.Hostname = "a b" },
		"hostname injection":  func(s *hypervisor.Seed) { s.Hostname = "x\nruncmd: [reboot]" },
		"multi-line key":      func(s *hypervisor.Seed) { s.SSHKeys = []string{"ssh-ed25519 A\nssh-rsa B"} },
		"empty key":           func(s *hypervisor.Seed) { s.SSHKeys = []string{" "} },
		"bad MAC":             func(s *hypervisor.Seed) { s.Network.MAC = "52:54:00" },
		"address not CIDR":    func(s *hypervisor.Seed) { s.Network.Address = "10.1.2.3" },
		"bad gateway":         func(s *hypervisor.Seed) { s.Network.Gateway = "10.1.2" },
		"mixed IP versions":   func(s *hypervisor.Seed) { s.Network.Gateway = "fe80::1" },
		"bad DNS":             func(s *hypervisor.Seed) { s.Network.DNS = []string{"dns.example"} },
	}
	for name, mutate := range cases {
		s := testSeed()
		n := *s.Network
		s.Network = &n
		mutate(&s)
		if _, err := hypervisor.BuildSeedISO(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// isoFiles returns the root directory's files by name.
func isoFiles(t *testing.T, img *iso9660.Image) map[string]string {
	t.Helper()
	root, err := img.RootDir()
	if err != nil {
		t.Fatal(err)
	}
	children, err := root.GetChildren()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, c := range children {
		data, err := io.ReadAll(c.Reader())
		if err != nil {
			t.Fatal(err)
		}
		files[c.Name()] = string(data)
	}
	return files
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// parseYAML parses YAML with python3's yaml module (what cloud-init uses)
// if the machine has it, converting to JSON for comparison.
func parseYAML(t *testing.T, text string) (map[string]any, bool) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, false
	}
	cmd := exec.Command(py, "-c", "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if ee, ok := err.(*exec.ExitError); ok {
			exit = ee
		}
		if exit != nil && strings.Contains(string(exit.Stderr), "No module named") {
			return nil, false
		}
		t.Fatalf("YAML does not parse: %v\n%s\n--- text ---\n%s", err, out, text)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v, true
}

// checkWithIsoinfo reads the image with an independent tool, if present.
func checkWithIsoinfo(t *testing.T, iso []byte) {
	t.Helper()
	if _, err := exec.LookPath("isoinfo"); err != nil {
		t.Log("isoinfo not installed; checked with the iso9660 reader only")
		return
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := os.WriteFile(path, iso, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("isoinfo", "-d", "-i", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Volume id: cidata") {
		t.Errorf("isoinfo -d: %v\n%s", err, out)
	}
	out, err = exec.Command("isoinfo", "-i", path, "-x", "/meta-data;1").Output()
	if err != nil || !strings.Contains(string(out), `instance-id: "i-0f3a"`) {
		t.Errorf("isoinfo -x /meta-data;1: %v\n%s", err, out)
	}
}
