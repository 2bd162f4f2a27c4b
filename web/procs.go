package web

import (
	"os"
	"runtime"
)

// runtimeProcs is the Go runtime's own choice of GOMAXPROCS: the CPUs
// this process may use (cgroup limits included).
var runtimeProcs = runtime.GOMAXPROCS(0)

// ShareCPUs gives the Go scheduler one processor more than there are CPUs,
// unless GOMAXPROCS is set in the environment. The portal shares its CPUs
// with QEMU guests and libvirtd (and, in the benchmark, with the load
// generator). With one processor per CPU, a thread the kernel preempts
// holds the requests queued on its processor until it runs again, while the
// other processors are too busy to take them: on two CPUs the dashboard's
// p99 latency under load was 27–33 ms; with one processor more it is
// 12–15 ms at the same throughput (e2e/bench). serve and the benchmark
// call it; calling it again changes nothing.
func ShareCPUs() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(runtimeProcs + 1)
}
