// Package service holds what Pitwall's domain services share: the one
// error type their operations return, how the principal acting travels in
// a context, and the audit log every change writes to. The services
// themselves live in the packages below it (tests, frameworks,
// changepoints, accounts, agents); HTTP handlers, the webhook, schedules
// and notifications all call them.
package service

import (
	"errors"
	"fmt"

	"github.com/pitwall/pitwall/internal/framework"
)

// Kind says what went wrong, in terms every caller maps its own way (the
// JSON API to status codes, pages to pages, a schedule to a log line).
type Kind int

// Kinds of failure.
const (
	// Internal is a failure the caller cannot fix; the error is for the log.
	Internal Kind = iota
	// Invalid is bad input; Field names the input at fault when there is one.
	Invalid
	// NotFound is a missing thing, or one the principal may not know exists.
	NotFound
	// Forbidden is a thing the principal may see but not do.
	Forbidden
	// Conflict is a change that clashes with the current state.
	Conflict
	// Ended is an action on a test that has already ended.
	Ended
	// TooLarge is input over a size limit.
	TooLarge
	// Unavailable is a dependency (Temporal, the database) that did not
	// answer; the caller may retry.
	Unavailable
	// Unauthenticated is a caller that did not prove who it is (a webhook
	// whose signature does not match).
	Unauthenticated
)

// Error is the error every service operation returns for a refusal.
type Error struct {
	Kind Kind
	// Msg says what was refused and why, for people.
	Msg string
	// Field names the input at fault (a framework file key, a request field).
	Field string
}

// Error returns the message, for people.
func (e *Error) Error() string { return e.Msg }

// Errorf makes an *Error of kind about field with a formatted message.
func Errorf(kind Kind, field, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Field: field}
}

// InvalidField is an Invalid error about field.
func InvalidField(field, msg string) error { return &Error{Kind: Invalid, Msg: msg, Field: field} }

// NotAllowed is a Forbidden error saying what was not allowed.
func NotAllowed(what string) error { return &Error{Kind: Forbidden, Msg: "not allowed: " + what} }

// KindOf is the kind of err: an *Error's own, Internal for anything else.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns err's *Error, or nil when err is not a refusal.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// FrameworkInvalid turns a framework file's validation error into an
// Invalid error naming its key, under prefix (such as "framework.").
func FrameworkInvalid(err error, prefix string) error {
	var fe *framework.FieldError
	field := ""
	if errors.As(err, &fe) {
		field = prefix + fe.Field
	}
	return InvalidField(field, err.Error())
}
