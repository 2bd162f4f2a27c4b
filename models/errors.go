package models

import (
	"errors"
	"net/http"
)

// Error is a domain error that carries, besides its internal cause, a
// message safe to show to the user, the HTTP status it maps to, and
// per-field messages for forms. Modelled on gotosocial's gtserror.WithCode.
type Error struct {
	Code   int               // HTTP status
	Safe   string            // shown to the client
	Fields map[string]string // form field → message
	Err    error             // internal cause, logged, never shown
	// Reason is the API's machine-readable error code when the status
	// alone does not say it ("no_capacity", "storage_full"). A 5xx error
	// with a Reason is an expected condition of the service, not a fault:
	// its Safe message is shown rather than the generic one.
	Reason string
	// Msgs keeps those of the messages above that have parts filled in
	// (key "" for Safe, a field's name for its message) as format and
	// arguments, for translation where they are shown (see Msg).
	Msgs map[string]Msg
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Safe + ": " + e.Err.Error()
	}
	return e.Safe
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid reports bad input, one message per form field.
//
// A field message that a shared check wrote as plain text although it has
// a part filled in (TooLong) is kept as a Msg as well, for translation.
func Invalid(fields map[string]string) *Error {
	e := &Error{Code: http.StatusUnprocessableEntity, Safe: "Please correct the marked fields.", Fields: fields}
	e.keepFieldMsgs()
	return e
}

// BadQuery reports a query parameter outside what the address allows
// (an unknown filter value): the request itself is malformed, hence 400
// rather than Invalid's 422 for a form's content.
func BadQuery(param, msg string) *Error {
	return &Error{Code: http.StatusBadRequest, Safe: msg, Fields: map[string]string{param: msg}}
}

// NotFoundError hides whether a resource exists but belongs to someone else.
func NotFoundError(what string) *Error {
	return &Error{Code: http.StatusNotFound, Safe: what + " not found", Err: ErrNotFound}
}

// Forbidden reports a missing role.
func Forbidden(msg string) *Error { return &Error{Code: http.StatusForbidden, Safe: msg} }

// Conflict reports an action the current state forbids.
func Conflict(msg string) *Error { return &Error{Code: http.StatusConflict, Safe: msg} }

// Unavailable reports an expected condition that keeps the service from
// doing what was asked right now (503), with its reason for API clients.
func Unavailable(reason, msg string, fields map[string]string) *Error {
	return &Error{Code: http.StatusServiceUnavailable, Reason: reason, Safe: msg, Fields: fields}
}

// UnavailableMsg is Unavailable with a message that has parts filled in;
// it is also the message of each of fields.
func UnavailableMsg(reason string, m Msg, fields ...string) *Error {
	e := withMsg(&Error{Code: http.StatusServiceUnavailable, Reason: reason}, m)
	if len(fields) > 0 {
		e.Fields = map[string]string{}
		for _, f := range fields {
			e.Fields[f], e.Msgs[f] = e.Safe, m
		}
	}
	return e
}

// IsNotFound reports whether err says a row does not exist (or belongs to
// someone the viewer may not know about).
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// AsError extracts a domain error; ok is false for unexpected (internal) errors.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}
