package i18n

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Date formats a day the way the language writes it: 2.12.2026 or
// 2 Dec 2026.
func Date(ctx context.Context, t time.Time) string {
	l := From(ctx)
	if t.IsZero() {
		return l.T("never")
	}
	t = t.In(l.Location)
	if l.Lang == German {
		return t.Format("2.1.2006")
	}
	return t.Format("2 Jan 2006")
}

// DateTime formats a moment in the reader's time zone, without seconds
// (people don't read them), with the zone's abbreviation.
func DateTime(ctx context.Context, t time.Time) string {
	l := From(ctx)
	if t.IsZero() {
		return l.T("never")
	}
	t = t.In(l.Location)
	if l.Lang == German {
		return t.Format("2.1.2006, 15:04 MST")
	}
	return t.Format("2 Jan 2006, 15:04 MST")
}

// Number formats an integer with the language's digit grouping:
// 12.345 or 12,345.
func Number(ctx context.Context, n int64) string {
	sep := ","
	if From(ctx).Lang == German {
		sep = "."
	}
	return group(n, sep)
}

// Money formats cents as euros: 1.234,56 € or €1,234.56.
func Money(ctx context.Context, cents int64) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	german := From(ctx).Lang == German
	sep, dec := ",", "."
	if german {
		sep, dec = ".", ","
	}
	s := group(cents/100, sep) + dec + pad2(cents%100)
	if german {
		s += " €"
	} else {
		s = "€" + s
	}
	if neg {
		s = "−" + s
	}
	return s
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

func group(n int64, sep string) string {
	neg := n < 0
	if neg {
		n = -n
	}
	digits := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(d)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
