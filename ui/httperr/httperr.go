// Package httperr maps the services' error kinds to HTTP status codes:
// once, for the JSON API and the pages alike.
package httperr

import (
	"log/slog"
	"net/http"

	"github.com/pitwall/pitwall/service"
)

// statusOf is the status code answering each kind of service error.
var statusOf = map[service.Kind]int{
	service.Invalid:         http.StatusBadRequest,
	service.NotFound:        http.StatusNotFound,
	service.Forbidden:       http.StatusForbidden,
	service.Conflict:        http.StatusConflict,
	service.Ended:           http.StatusConflict,
	service.TooLarge:        http.StatusRequestEntityTooLarge,
	service.Unavailable:     http.StatusServiceUnavailable,
	service.Unauthenticated: http.StatusUnauthorized,
}

// Internal is what a response says about a failure that is not a refusal.
const Internal = "internal error; the server log has the details"

// Status is the status code answering err: a refusal's, else 500.
func Status(err error) int {
	if e := service.As(err); e != nil && statusOf[e.Kind] != 0 {
		return statusOf[e.Kind]
	}
	return http.StatusInternalServerError
}

// Message is what a response says about err: a refusal's own message,
// else Internal (the error itself is for the log).
func Message(err error) string {
	if Status(err) == http.StatusInternalServerError {
		return Internal
	}
	return service.As(err).Msg
}

// Field is the input a refusal names, or "".
func Field(err error) string {
	if e := service.As(err); e != nil {
		return e.Field
	}
	return ""
}

// Explain is the status and message answering err; a failure that is not
// a refusal is logged with the request, as the answer does not say what
// it was.
func Explain(log *slog.Logger, r *http.Request, err error) (int, string) {
	status := Status(err)
	if status == http.StatusInternalServerError {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	return status, Message(err)
}

// Plain answers err as plain text (Explain's status and message).
func Plain(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, msg := Explain(log, r, err)
	http.Error(w, msg, status)
}
