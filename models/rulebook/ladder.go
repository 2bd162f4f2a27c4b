package rulebook

import (
	"fmt"
	"strconv"
	"strings"
)

// Kinds of sanction a ladder step may name, from the mildest.
const (
	SanctionWarning       = "warning"
	SanctionThrottle      = "throttle"       // a VM's disk I/O and CPU are limited
	SanctionSuspendVM     = "suspend_vm"     // a VM is paused and locked
	SanctionSuspendMember = "suspend_member" // no new VMs, all VMs locked; never the vote
	SanctionExclusion     = "exclusion"      // a motion to exclude, to the board (§68 GenG)
)

// SanctionKinds lists the kinds in order of severity.
var SanctionKinds = []string{SanctionWarning, SanctionThrottle, SanctionSuspendVM, SanctionSuspendMember, SanctionExclusion}

// LadderStep is one step of the graduated sanctions: a kind and, for a
// temporary sanction, how long it lasts unless the moderator says
// otherwise (0: until lifted).
type LadderStep struct {
	Kind string
	Days int
}

// ParseLadder reads the rule's value, e.g.
// "warning,throttle:7d,suspend_vm:30d,suspend_member:90d,exclusion".
// Steps must not become milder further up, each kind appears once, and a
// warning or an exclusion has no duration.
func ParseLadder(v string) ([]LadderStep, string) {
	const hint = ` Write the steps in order, separated by commas, e.g. "warning, throttle:7d, suspend_vm:30d, suspend_member:90d, exclusion".`
	var out []LadderStep
	seen := map[string]bool{}
	last := -1
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		kind, dur, hasDur := strings.Cut(part, ":")
		rank := -1
		for i, k := range SanctionKinds {
			if k == kind {
				rank = i
			}
		}
		if rank < 0 {
			return nil, fmt.Sprintf("Unknown step %q: use %s.", kind, strings.Join(SanctionKinds, ", ")) + hint
		}
		if seen[kind] {
			return nil, fmt.Sprintf("The step %s appears twice.", kind) + hint
		}
		if rank < last {
			return nil, fmt.Sprintf("The step %s is milder than the one before it.", kind) + hint
		}
		seen[kind], last = true, rank
		s := LadderStep{Kind: kind}
		if hasDur {
			if kind == SanctionWarning || kind == SanctionExclusion {
				return nil, fmt.Sprintf("A %s has no duration.", kind) + hint
			}
			n, err := strconv.Atoi(strings.TrimSuffix(dur, "d"))
			if err != nil || !strings.HasSuffix(dur, "d") || n < 1 || n > 3650 {
				return nil, fmt.Sprintf("The duration of %s must be 1d to 3650d.", kind) + hint
			}
			s.Days = n
		}
		out = append(out, s)
	}
	return out, ""
}

// Step returns the ladder's step of a kind, numbered from 1.
func Step(ladder []LadderStep, kind string) (int, LadderStep, bool) {
	for i, s := range ladder {
		if s.Kind == kind {
			return i + 1, s, true
		}
	}
	return 0, LadderStep{}, false
}

// Ladder is the ladder in force, parsed (RulesAt checked it).
func (p RuleParams) Ladder() []LadderStep {
	steps, _ := ParseLadder(p.ModerationLadder)
	return steps
}
