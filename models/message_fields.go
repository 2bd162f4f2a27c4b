package models

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
	return e
}
