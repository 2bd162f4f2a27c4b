package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux this runs on).
const clockTicks = 100

// cpuTimes is the CPU time used so far by this process and every process
// below it (the private libvirtd, its QEMU, helpers), by command name: where
// a copy's time goes when the machine's CPUs are the limit.
func cpuTimes() map[string]time.Duration {
	parent := map[int]int{}
	comm := map[int]string{}
	ticks := map[int]uint64{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime(14) stime(15): comm may hold spaces.
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if len(f) < 13 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		parent[pid], comm[pid], ticks[pid] = pp, s[i+1:j], ut+st
	}
	self := os.Getpid()
	out := map[string]time.Duration{}
	for pid := range comm {
		for p := pid; p > 1; p = parent[p] {
			if p == self {
				out[comm[pid]] += time.Duration(ticks[pid]) * time.Second / clockTicks
				break
			}
		}
	}
	return out
}

// cpuDelta formats the CPU time used between two cpuTimes readings, the
// largest first.
func cpuDelta(before, after map[string]time.Duration) string {
	type use struct {
		name string
		d    time.Duration
	}
	var uses []use
	for name, d := range after {
		if d -= before[name]; d > 0 {
			uses = append(uses, use{name, d})
		}
	}
	slices.SortFunc(uses, func(a, b use) int { return int(b.d - a.d) })
	var parts []string
	for _, u := range uses {
		parts = append(parts, fmt.Sprintf("%s %.1f s", u.name, u.d.Seconds()))
	}
	return strings.Join(parts, ", ")
}
