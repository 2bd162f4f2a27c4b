package models

import "fmt"

// InvalidFields is Invalid for a form whose fixed messages (fields) and
// messages with parts filled in (msgs, translated where they are shown) were
// collected apart: a validation that also calls helpers writing into a
// map[string]string keeps both and reports them as one error.
func InvalidFields(fields map[string]string, msgs map[string]Msg) *Error {
	e := Invalid(make(map[string]string, len(fields)+len(msgs)))
	for name, text := range fields {
		e.Fields[name] = text
	}
	if len(msgs) > 0 {
		e.Msgs = make(map[string]Msg, len(msgs))
	}
	for name, m := range msgs {
		e.Fields[name], e.Msgs[name] = m.String(), m
	}
	e.keepFieldMsgs()
	return e
}

// TooLong is the message for a text longer than maxLen characters.
func TooLong(maxLen int) Msg {
	return Msgf("This is too long (at most %d characters).", maxLen)
}

// keepFieldMsgs adds to e.Msgs the field messages that are TooLong's text.
// kit.TextField and kit.TextBlock check the length of free text for some
// forty forms, each of which collects its messages in a map[string]string;
// rather than carry a second map through all of them for this one message,
// the error recognises its text: the number read back must give exactly
// the same text, so no other message is taken for it.
func (e *Error) keepFieldMsgs() {
	for name, text := range e.Fields {
		if _, ok := e.Msgs[name]; ok {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(text, TooLong(0).Format, &n); err != nil {
			continue
		}
		if m := TooLong(n); m.String() == text {
			if e.Msgs == nil {
				e.Msgs = map[string]Msg{}
			}
			e.Msgs[name] = m
		}
	}
}
