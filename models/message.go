package models

import "fmt"

// Msg is a message for people that has parts filled in ("No host has room
// for this plan: it needs %d vCPU(s) …"): the English format and its
// arguments, kept apart. The format is the message's id in the German
// catalogue (i18n/locales), so the web layer translates it and formats the
// arguments into the translation: i18n.T(ctx, m.Format, m.Args...). A text
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

// String is the message in English.
func (m Msg) String() string {
	if len(m.Args) == 0 {
		return m.Format
	}
	return fmt.Sprintf(m.Format, m.Args...)
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
