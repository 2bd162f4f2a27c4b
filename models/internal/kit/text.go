package kit

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

func TextField(fields map[string]string, name, v, missing string, maxLen int) {
	switch n := utf8.RuneCountInString(v); {
	case n == 0:
		fields[name] = missing
	case n > maxLen:
		fields[name] = fmt.Sprintf("This is too long (at most %d characters).", maxLen)
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
