package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"allmende/i18n"
)

// Msg is a message for people that has parts filled in ("No host has room
// for this plan: it needs %d vCPU(s) …"): the English format and its
// arguments, kept apart. The format is the message's id in the German
// catalogue (i18n/locales), so the web layer translates it and formats the
// arguments into the translation: m.Text(ctx). A text
// formatted in the domain with fmt.Sprintf could not be looked up.
//
// Write the format as a literal in the call (models.Msgf("…", n)):
// TestCatalogue finds it there and fails when it has no German text.
type Msg struct {
	Format string
	Args   []any
}

// Msgf makes a message from an English format and its arguments.
func Msgf(format string, args ...any) Msg { return Msg{Format: format, Args: args} }

// An argument of a Msg that is a date, a moment or an amount of money is
// passed typed (time.Time, Cents), not as a formatted string: Text formats
// it the way the reader's language writes it. The rule for time.Time: a
// value at midnight UTC is a day (kit.DateOf, how the domain keeps days)
// and reads as a date ("16.12.2026"); any other value is a moment and reads
// as date and time in the reader's time zone. A moment that may fall on
// midnight UTC (a voting window, a sanction's end) is passed as a Moment,
// which always reads as date and time. A stored message (Value, Args)
// keeps these types, so a notification reads the same way.

// Moment is a time.Time argument that reads as date and time even at
// midnight UTC, where a plain time.Time would read as a day.
type Moment time.Time

// String is the message in English, for logs and the English pages: days
// as 2026-12-16, moments as 2026-12-16 14:30 UTC, amounts as 50.00 EUR.
func (m Msg) String() string {
	if len(m.Args) == 0 {
		return m.Format
	}
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		args[i] = a
		switch t := a.(type) {
		case time.Time:
			args[i] = t.UTC().Format("2006-01-02 15:04 MST")
			if isDay(t) {
				args[i] = t.Format("2006-01-02")
			}
		case Moment:
			args[i] = time.Time(t).UTC().Format("2006-01-02 15:04 MST")
		}
	}
	return fmt.Sprintf(m.Format, args...)
}

// Text is the message in the reader's language (ctx's locale). English
// reads as String, as it did before messages were translated: people and
// tests know those texts. In German the format is translated and dates
// and amounts are written the German way (16.12.2026, 50,00 €).
func (m Msg) Text(ctx context.Context) string {
	if i18n.From(ctx).Lang == i18n.English {
		return m.String()
	}
	if len(m.Args) == 0 {
		return i18n.T(ctx, m.Format)
	}
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		switch v := a.(type) {
		case time.Time:
			if isDay(v) {
				// noon in the reader's zone: the same day in every zone
				args[i] = i18n.Date(ctx, time.Date(v.Year(), v.Month(), v.Day(), 12, 0, 0, 0, i18n.From(ctx).Location))
			} else {
				args[i] = i18n.DateTime(ctx, v)
			}
		case Moment:
			args[i] = i18n.DateTime(ctx, time.Time(v))
		case Cents:
			args[i] = i18n.Money(ctx, int64(v))
		case Msg:
			args[i] = v.Text(ctx)
		case List:
			args[i] = v.text(ctx)
		default:
			args[i] = a
		}
	}
	return i18n.T(ctx, m.Format, args...)
}

// isDay tells whether t is a day rather than a moment (midnight UTC).
func isDay(t time.Time) bool {
	t = t.UTC()
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// List is messages as one argument of a Msg, read as "a, b and c": a
// sentence that names only what applies ("3 vCPUs of 2 and 4096 MiB memory
// of 2048") without a message for every combination.
type List []Msg

// String is the list in English.
func (l List) String() string {
	parts := make([]string, len(l))
	for i, m := range l {
		parts[i] = m.String()
	}
	return joinWords(parts, " and ")
}

// text is the list in ctx's language.
func (l List) text(ctx context.Context) string {
	parts := make([]string, len(l))
	for i, m := range l {
		parts[i] = m.Text(ctx)
	}
	return joinWords(parts, i18n.T(ctx, " and "))
}

// joinWords joins parts as "a, b and c", with and between the last two.
func joinWords(parts []string, and string) string {
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + and + parts[len(parts)-1]
}

// Cents is an amount of money in euro cents, as an argument of a Msg (see
// Text) or wherever an amount is formatted for English logs.
type Cents int64

// String is the amount in English for logs, e.g. "50.00 EUR".
func (c Cents) String() string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d EUR", sign, c/100, c%100)
}

// Conflictf is Conflict with a message that has parts filled in.
func Conflictf(format string, args ...any) *Error {
	return withMsg(Conflict(""), Msgf(format, args...))
}

// Invalidf reports bad input in one field, with a message that has parts
// filled in.
func Invalidf(field, format string, args ...any) *Error {
	return InvalidMsgs(map[string]Msg{field: Msgf(format, args...)})
}

// InvalidMsgs is Invalid for a form whose messages have parts filled in.
func InvalidMsgs(fields map[string]Msg) *Error {
	e := Invalid(make(map[string]string, len(fields)))
	e.Msgs = make(map[string]Msg, len(fields))
	for name, m := range fields {
		e.Fields[name], e.Msgs[name] = m.String(), m
	}
	return e
}

// InvalidWith is Invalid for a form some of whose messages have parts
// filled in (msgs, by field). A message of msgs is kept for translation
// only while its field still says it: a later check of the same field may
// have put a fixed message there.
func InvalidWith(fields map[string]string, msgs map[string]Msg) *Error {
	e := Invalid(fields)
	for name, m := range msgs {
		if text, ok := fields[name]; ok && m.Format != "" && text == m.String() {
			if e.Msgs == nil {
				e.Msgs = map[string]Msg{}
			}
			e.Msgs[name] = m
		}
	}
	return e
}

// BadQueryf is BadQuery with a message that has parts filled in.
func BadQueryf(param, format string, args ...any) *Error {
	m := Msgf(format, args...)
	e := BadQuery(param, m.String())
	e.Msgs = map[string]Msg{"": m, param: m}
	return e
}

// ErrorMsg makes an error of the given status with a message that has parts
// filled in.
func ErrorMsg(code int, m Msg) *Error { return withMsg(&Error{Code: code}, m) }

// withMsg sets e's message (Safe, in English) from m and keeps m for
// translation.
func withMsg(e *Error, m Msg) *Error {
	e.Safe = m.String()
	if e.Msgs == nil {
		e.Msgs = map[string]Msg{}
	}
	e.Msgs[""] = m
	return e
}
