// Package route gives each of the server's routes a policy: who may send
// it a request at all, how large a body it takes, and whether it moves
// data for longer than the server's deadlines allow. The policy is applied
// before the route's handler runs, and the body limit before anything
// (authentication included) reads the body, so no route reads a byte from
// someone who may not use it, nor more than it needs.
package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/units"
)

// Need is who may use a route: checked from the principal alone, before
// the body is read. The services check the finer rules (the team a body
// names, the owner of a test) once they have it.
type Need int

// What a route needs of its principal, weakest first.
const (
	// Anyone authenticated (or anyone at all on the public paths, which
	// authentication lets through without a principal).
	Anyone Need = iota
	// User is a person or their API token, not an agent.
	User
	// Member holds the member role (or more) in at least one team.
	Member
	// TeamAdmin is an admin of at least one team.
	TeamAdmin
	// SiteAdmin is a site admin.
	SiteAdmin
	// Agent is an agent's token.
	Agent
)

// may reports whether p may use a route that needs n. A nil principal has
// passed authentication only on a public path.
func (n Need) may(p *auth.Principal) bool {
	if p == nil {
		return n == Anyone
	}
	switch n {
	case User:
		return p.Kind == auth.KindUser
	case Member:
		return p.CanAny(auth.Member)
	case TeamAdmin:
		return p.CanAny(auth.Admin)
	case SiteAdmin:
		return p.Kind == auth.KindUser && p.SiteAdmin
	case Agent:
		return p.Kind == auth.KindAgent
	}
	return true
}

// refusal says what n needs, for people.
func (n Need) refusal() string {
	switch n {
	case User:
		return "not allowed: this endpoint is for people and their API tokens, not agents"
	case Member:
		return "not allowed: this needs the member role in a team"
	case TeamAdmin:
		return "not allowed: this needs the admin role in a team"
	case SiteAdmin:
		return "not allowed: this needs a site admin"
	case Agent:
		return "not allowed: this endpoint is for agents"
	}
	return "not allowed"
}

// Body sizes routes take.
const (
	// Small is the body every route takes unless its policy says more: a
	// JSON request or a page's form.
	Small = 256 << 10
	// Unbounded is for a route whose handler bounds what it reads itself
	// (an upload whose size its service checks first).
	Unbounded = -1
)

// Policy is what a route may take.
type Policy struct {
	// Need is who may use the route.
	Need Need
	// Body is the largest request body in bytes: 0 means Small.
	Body int64
	// Long marks a route that streams or moves large bodies: it is not
	// bound by the server's whole-request deadlines; instead every read
	// and write must make progress within Idle, and an upload must end
	// within MaxUpload.
	Long bool
}

func (p Policy) body() int64 {
	if p.Body == 0 {
		return Small
	}
	return p.Body
}

// Deadlines of Long routes.
const (
	// Idle is how long a Long route's body or response may stall.
	Idle = time.Minute
	// MaxUpload is how long a Long route's body may take in all.
	MaxUpload = time.Hour
)

// Mux is an http.ServeMux whose routes have policies. Routes registered
// with the ServeMux's own Handle and HandleFunc take the default policy
// (Anyone, Small, not Long).
type Mux struct {
	*http.ServeMux
	policies map[string]Policy
}

// NewMux returns an empty Mux.
func NewMux() *Mux {
	return &Mux{ServeMux: http.NewServeMux(), policies: map[string]Policy{}}
}

// Route registers h for pattern under policy p.
func (m *Mux) Route(pattern string, p Policy, h http.HandlerFunc) {
	m.HandleFunc(pattern, h)
	m.policies[pattern] = p
}

// Set gives a pattern registered on the ServeMux itself its policy.
func (m *Mux) Set(pattern string, p Policy) { m.policies[pattern] = p }

type policyKey struct{}

// Serve returns the server's handler: it finds the request's route and
// bounds its body and deadlines, then has authenticate find the principal
// (authenticate may read a page form's CSRF field: within the bound), then
// refuses a principal the route does not serve and a body declared larger
// than the route takes, and only then runs the route.
func (m *Mux) Serve(authenticate func(http.Handler) http.Handler) http.Handler {
	guarded := authenticate(http.HandlerFunc(m.guard))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := m.Handler(r)
		p := m.policies[pattern]
		if p.Long {
			w, r = long(w, r)
		}
		if limit := p.body(); limit >= 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		guarded.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), policyKey{}, p)))
	})
}

// guard refuses what the route's policy does not allow, then serves it.
func (m *Mux) guard(w http.ResponseWriter, r *http.Request) {
	p, _ := r.Context().Value(policyKey{}).(Policy)
	if !p.Need.may(auth.From(r.Context())) {
		refuse(w, r, http.StatusForbidden, p.Need.refusal())
		return
	}
	if limit := p.body(); limit >= 0 && r.ContentLength > limit {
		refuse(w, r, http.StatusRequestEntityTooLarge, TooLarge(limit))
		return
	}
	m.ServeMux.ServeHTTP(w, r)
}

// TooLarge is the refusal of a body over limit bytes.
func TooLarge(limit int64) string {
	return fmt.Sprintf("request body too large: this endpoint takes at most %s", size(limit))
}

// IsTooLarge reports whether err is a read past the route's body limit.
func IsTooLarge(err error) (limit int64, ok bool) {
	var e *http.MaxBytesError
	if errors.As(err, &e) {
		return e.Limit, true
	}
	return 0, false
}

func size(n int64) string { return units.Format(float64(n), "B") }

// refuse answers JSON on the API, plain text on pages.
func refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, status)
}

// long lifts the server's whole-request deadlines from a Long route: its
// body's reads and its response's writes each extend their own deadline
// by Idle instead, and reading the body stops at MaxUpload.
func long(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	rc := http.NewResponseController(w)
	// No write deadline until the handler writes: it may work for a while
	// (storing an import) before it answers.
	_ = rc.SetWriteDeadline(time.Time{})
	if r.Body == nil || r.Body == http.NoBody {
		// Nothing to read: the server's watch for the client going away
		// must not time out (it would cancel the request's context).
		_ = rc.SetReadDeadline(time.Time{})
	} else {
		b := &body{ReadCloser: r.Body, rc: rc, end: time.Now().Add(MaxUpload)}
		_ = b.extend()
		r.Body = b
	}
	return &writer{ResponseWriter: w, rc: rc}, r
}

// body is a Long route's request body: each read may stall up to Idle.
type body struct {
	io.ReadCloser
	rc  *http.ResponseController
	end time.Time
}

func (b *body) extend() error {
	d := time.Now().Add(Idle)
	if d.After(b.end) {
		d = b.end
	}
	return b.rc.SetReadDeadline(d)
}

func (b *body) Read(p []byte) (int, error) {
	_ = b.extend()
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		// The whole body is in. The server now watches the connection
		// for the client going away, which must not time out while the
		// handler works.
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// writer is a Long route's response: each write may stall up to Idle.
type writer struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w *writer) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(Idle))
	return w.ResponseWriter.Write(p)
}

// FlushError flushes what is buffered, within Idle.
func (w *writer) FlushError() error {
	_ = w.rc.SetWriteDeadline(time.Now().Add(Idle))
	return w.rc.Flush()
}

// Flush is FlushError for http.Flusher.
func (w *writer) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach the connection.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
