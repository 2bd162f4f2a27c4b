package kit

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"allmende/models"
)

// TextField checks a required one-line text: present, at most maxLen
// characters, no control characters.
func TextField(fields map[string]string, name, v, missing string, maxLen int) {
	textField(fields, name, v, missing, maxLen, false)
}

// TextBlock checks a required text of several lines (a reasoning, a
// comment): like TextField, but line breaks and tabs are allowed.
func TextBlock(fields map[string]string, name, v, missing string, maxLen int) {
	textField(fields, name, v, missing, maxLen, true)
}

func textField(fields map[string]string, name, v, missing string, maxLen int, multiline bool) {
	switch n := utf8.RuneCountInString(v); {
	case n == 0:
		fields[name] = missing
	case n > maxLen:
		fields[name] = models.TooLong(maxLen).String() // models.Invalid keeps it as a Msg
	default:
		NoControl(fields, name, v, multiline)
	}
}

// ControlCharsMessage is the field message for text with control characters.
const ControlCharsMessage = "This must not contain control characters."

// HasControl reports whether s holds control characters (NUL, escape
// sequences, C1 codes, invalid UTF-8): text of several lines may hold line
// breaks and tabs, one-line text nothing of the kind.
func HasControl(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// NoControl sets a field message when v holds control characters and the
// field has no message yet. Free text is stored and shown (pages, mails,
// minutes, exports), where NUL bytes and escape sequences do harm.
func NoControl(fields map[string]string, name, v string, multiline bool) {
	if _, set := fields[name]; !set && HasControl(v, multiline) {
		fields[name] = ControlCharsMessage
	}
}

// truncate shortens s to at most n bytes without splitting a character.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func UTF8Len(s string) int { return len([]rune(s)) }

func UniqueNonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
