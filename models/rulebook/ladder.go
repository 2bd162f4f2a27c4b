package rulebook

import (
	"strconv"
	"strings"

	"allmende/models"
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
//
// Each message repeats the hint how to write the ladder in its own literal:
// the whole text is the message's id in the catalogue.
func ParseLadder(v string) ([]LadderStep, models.Msg) {
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
			return nil, models.Msgf("Unknown step %q: use %s. Write the steps in order, separated by commas, e.g. \"warning, throttle:7d, suspend_vm:30d, suspend_member:90d, exclusion\".", kind, strings.Join(SanctionKinds, ", "))
		}
		if seen[kind] {
			return nil, models.Msgf("The step %s appears twice. Write the steps in order, separated by commas, e.g. \"warning, throttle:7d, suspend_vm:30d, suspend_member:90d, exclusion\".", kind)
		}
		if rank < last {
			return nil, models.Msgf("The step %s is milder than the one before it. Write the steps in order, separated by commas, e.g. \"warning, throttle:7d, suspend_vm:30d, suspend_member:90d, exclusion\".", kind)
		}
		seen[kind], last = true, rank
		s := LadderStep{Kind: kind}
		if hasDur {
			if kind == SanctionWarning || kind == SanctionExclusion {
				return nil, models.Msgf("A %s has no duration. Write the steps in order, separated by commas, e.g. \"warning, throttle:7d, suspend_vm:30d, suspend_member:90d, exclusion\".", kind)
			}
			n, err := strconv.Atoi(strings.TrimSuffix(dur, "d"))
			if err != nil || !strings.HasSuffix(dur, "d") || n < 1 || n > 3650 {
				return nil, models.Msgf("The duration of %s must be 1d to 3650d. Write the steps in order, separated by commas, e.g. \"warning, throttle:7d, suspend_vm:30d, suspend_member:90d, exclusion\".", kind)
			}
			s.Days = n
		}
		out = append(out, s)
	}
	return out, models.Msg{}
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
