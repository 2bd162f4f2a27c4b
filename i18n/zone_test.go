package i18n_test

import (
	"testing"

	"allmende/i18n"
)

// TestZone: IANA names load (and the second time come from the cache);
// paths, unknown names and empty ones do not.
func TestZone(t *testing.T) {
	for range 2 {
		loc, ok := i18n.Zone("Europe/Berlin")
		if !ok || loc.String() != "Europe/Berlin" {
			t.Fatalf("Zone(Europe/Berlin) = %v, %v", loc, ok)
		}
	}
	for _, bad := range []string{"", "/etc/passwd", "../../etc/passwd", "Europe/../../etc/passwd", "Mars/Olympus_Mons"} {
		if loc, ok := i18n.Zone(bad); ok {
			t.Errorf("Zone(%q) = %v, want none", bad, loc)
		}
	}
}
