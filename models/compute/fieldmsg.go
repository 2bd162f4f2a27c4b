package compute

import (
	"unicode/utf8"

	"allmende/models"
	"allmende/models/internal/kit"
)

// textField is kit.TextField for the admins' catalogue forms, whose field
// messages are models.Msg so that those with parts filled in (the length)
// can be translated where they are shown.
func textField(fields map[string]models.Msg, name, v, missing string, maxLen int) {
	switch n := utf8.RuneCountInString(v); {
	case n == 0:
		fields[name] = models.Msgf(missing)
	case n > maxLen:
		fields[name] = models.TooLong(maxLen)
	case kit.HasControl(v, false):
		fields[name] = models.Msgf(kit.ControlCharsMessage)
	}
}
