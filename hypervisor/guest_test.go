package hypervisor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"allmende/hypervisor/hvtest"
)

// TestGuestsAreIsolatedAndStopped starts a guest of the same name on two
// private hosts at once. Each host must see only its own guest, and stopping
// a host must take its guest (QEMU) down with it and leave the other's alone.
func TestGuestsAreIsolatedAndStopped(t *testing.T) {
	t.Parallel()
	a := hvtest.Start(t)
	b := hvtest.Start(t)

	x, err := (&libvirtxml.Domain{
		Type:   "qemu", // TCG: see shared notes, KVM boots stall on these machines
		Name:   "vm1",
		Memory: &libvirtxml.DomainMemory{Value: 64, Unit: "MiB"},
		VCPU:   &libvirtxml.DomainVCPU{Value: 1},
		OS:     &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: "x86_64", Machine: "pc", Type: "hvm"}},
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(a.Dir(), "vm1.xml")
	if err := os.WriteFile(file, []byte(x), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{a.URI(), b.URI()} {
		virsh(t, d, "define", file)
		virsh(t, d, "start", "vm1")
	}
	for _, d := range []string{a.URI(), b.URI()} {
		if out := virsh(t, d, "list", "--name"); strings.TrimSpace(out) != "vm1" {
			t.Errorf("%s runs %q, want just vm1", d, out)
		}
	}

	qemuA, qemuB := qemuIn(t, a.Dir()), qemuIn(t, b.Dir())
	if len(qemuA) != 1 || len(qemuB) != 1 {
		t.Fatalf("QEMU processes: host a %v, host b %v; want one each", qemuA, qemuB)
	}
	// libvirt would name both guests' cgroups machine/qemu-1-vm1.libvirt-qemu;
	// private hosts keep their guests out of cgroups altogether.
	for _, pid := range []int{qemuA[0], qemuB[0]} {
		cg, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "cgroup"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(cg), "vm1") {
			t.Errorf("QEMU %d is in a per-guest cgroup that another host could share:\n%s", pid, cg)
		}
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := qemuIn(t, b.Dir()); len(left) != 1 || left[0] != qemuB[0] {
		t.Errorf("host b's QEMU after stopping host a: %v, want %v", left, qemuB)
	}
	if alive(qemuA[0]) {
		t.Errorf("host a's QEMU (pid %d) survived Stop", qemuA[0])
	}
}

// qemuIn returns the QEMU processes in the PID namespace of the daemon
// running in dir.
func qemuIn(t *testing.T, dir string) []int {
	t.Helper()
	daemon := processesMentioning(t, dir)
	if len(daemon) == 0 {
		t.Fatalf("no daemon running in %s", dir)
	}
	ns, err := os.Readlink(filepath.Join("/proc", itoa(daemon[0]), "ns", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, pid := range processesMentioning(t, "qemu-system") {
		if other, err := os.Readlink(filepath.Join("/proc", itoa(pid), "ns", "pid")); err == nil && other == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}
