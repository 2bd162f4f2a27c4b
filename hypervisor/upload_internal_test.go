package hypervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// qcow2References reads the header of images made by qemu-img: a plain
// image passes, one naming a backing file or an external data file is
// refused, and so is a header whose extensions do not end in the bytes read.
func TestQcow2References(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	dir := t.TempDir()
	img := func(name string, args ...string) []byte {
		t.Helper()
		path := filepath.Join(dir, name)
		out, err := exec.Command("qemu-img", append(append([]string{"create", "-f", "qcow2"}, args...), path, "1M")...).CombinedOutput()
		if err != nil {
			t.Fatalf("qemu-img %s: %v: %s", name, err, out)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b[:min(len(b), qcow2HeadSize)]
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		head    []byte
		refused bool
	}{
		{"plain v3", img("plain.qcow2"), false},
		{"plain v2", img("v2.qcow2", "-o", "compat=0.10"), false},
		{"backing file", img("backing.qcow2", "-b", secret, "-F", "raw"), true},
		{"external data file", img("data.qcow2", "-o", "data_file="+filepath.Join(dir, "data.raw")), true},
		{"not qcow2", []byte("just some raw bytes"), false},
	}
	for _, c := range cases {
		if err := qcow2References(c.head); (err != nil) != c.refused {
			t.Errorf("%s: %v, want refused %v", c.name, err, c.refused)
		}
	}
	cut := img("cut.qcow2")[:110] // v3 header read, extensions cut off
	if err := qcow2References(cut); err == nil {
		t.Error("a header whose extensions are cut off passed")
	}
}
