package rulebook_test

import (
	"testing"

	"allmende/models/rulebook"
)

func TestParseLadder(t *testing.T) {
	steps, msg := rulebook.ParseLadder("warning,throttle:7d,suspend_vm:30d,suspend_member,exclusion")
	if msg.Format != "" || len(steps) != 5 || steps[1] != (rulebook.LadderStep{Kind: "throttle", Days: 7}) || steps[3].Days != 0 {
		t.Fatalf("%+v %q", steps, msg)
	}
	for _, bad := range []string{"", "warning,,exclusion", "ban", "throttle,warning", "warning,warning",
		"warning:3d", "throttle:0d", "throttle:7", "throttle:xd", "exclusion:1d"} {
		if _, msg := rulebook.ParseLadder(bad); msg.Format == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}
