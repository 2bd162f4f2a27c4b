package hypervisor

import (
	"testing"

	"github.com/digitalocean/go-libvirt"
)

func param(field string, v uint64) libvirt.TypedParam {
	return libvirt.TypedParam{Field: field, Value: *libvirt.NewTypedParamValueUllong(v)}
}

// The guest's CPU time is the sum of its vCPUs' times, not libvirt's
// cpu.time, which also counts QEMU's own threads; without vCPU times
// (drivers that do not report them) cpu.time is what there is.
func TestDomainStatsCPUTimeIsTheVCPUs(t *testing.T) {
	r := libvirt.DomainStatsRecord{Dom: libvirt.Domain{Name: "g"}, Params: []libvirt.TypedParam{
		param("cpu.time", 3000), param("vcpu.current", 2), param("vcpu.maximum", 2),
		param("vcpu.0.time", 1000), param("vcpu.0.wait", 77), param("vcpu.1.time", 1500),
	}}
	if got := domainStats(r).CPUTimeNs; got != 2500 {
		t.Errorf("CPU time %d, want 2500 (vCPU 0 + vCPU 1)", got)
	}
	r.Params = []libvirt.TypedParam{param("cpu.time", 3000), param("block.0.wr.bytes", 9)}
	if got := domainStats(r); got.CPUTimeNs != 3000 || got.WriteBytes != 9 {
		t.Errorf("without vCPU times: CPU time %d, writes %d; want 3000 and 9", got.CPUTimeNs, got.WriteBytes)
	}
}
