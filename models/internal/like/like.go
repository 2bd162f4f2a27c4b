package like

import "strings"

// Escape makes user input match literally in a LIKE pattern with
// ESCAPE '\', which both SQLite and PostgreSQL understand.
func Escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}
