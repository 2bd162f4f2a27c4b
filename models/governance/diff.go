package governance

import "strings"

// Diff is a line diff of two texts: the lines of a longest common
// subsequence are kept (' '), the others removed ('-') or added ('+').
// Removals come before additions at each change, as in a unified diff.
func Diff(old, new string) []DiffLine {
	a, b := splitLines(old), splitLines(new)
	// Common head and tail need no table; bylaws change in a few places.
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	out := make([]DiffLine, 0, len(a)+len(b))
	for _, l := range a[:head] {
		out = append(out, DiffLine{' ', l})
	}
	ma, mb := a[head:len(a)-tail], b[head:len(b)-tail]
	// lcs[i][j] is the length of the LCS of ma[i:] and mb[j:].
	w := len(mb) + 1
	lcs := make([]int32, (len(ma)+1)*w)
	for i := len(ma) - 1; i >= 0; i-- {
		for j := len(mb) - 1; j >= 0; j-- {
			if ma[i] == mb[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(ma) || j < len(mb) {
		switch {
		case i < len(ma) && j < len(mb) && ma[i] == mb[j]:
			out = append(out, DiffLine{' ', ma[i]})
			i, j = i+1, j+1
		case j == len(mb) || (i < len(ma) && lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
			out = append(out, DiffLine{'-', ma[i]})
			i++
		default:
			out = append(out, DiffLine{'+', mb[j]})
			j++
		}
	}
	for _, l := range a[len(a)-tail:] {
		out = append(out, DiffLine{' ', l})
	}
	return out
}

// splitLines splits a text into lines; a final newline ends the last line
// rather than starting an empty one, and "\r\n" counts as one break.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
