package kit

import "testing"

func TestHasControl(t *testing.T) {
	for _, tc := range []struct {
		s                 string
		oneLine, multiple bool
	}{
		{"Ada Lovelace", false, false},
		{"Grüße, 東京 🙂", false, false},
		{"two\nlines\r\n\tindented", true, false},
		{"nul\x00", true, true},
		{"esc \x1b[31m", true, true},
		{"del \x7f", true, true},
		{"c1 \u0085", true, true},
		{"bad \xff", true, true},
	} {
		if got := HasControl(tc.s, false); got != tc.oneLine {
			t.Errorf("HasControl(%q, one line) = %v", tc.s, got)
		}
		if got := HasControl(tc.s, true); got != tc.multiple {
			t.Errorf("HasControl(%q, several lines) = %v", tc.s, got)
		}
	}
	fields := map[string]string{}
	TextField(fields, "name", "a\tb", "missing", 10)
	TextBlock(fields, "text", "a\tb", "missing", 10)
	if fields["name"] != ControlCharsMessage || fields["text"] != "" {
		t.Errorf("fields = %v", fields)
	}
}
