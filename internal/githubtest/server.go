// Package githubtest plays GitHub for Pitwall's tests from GitHub's own
// published material: a REST API server that checks every request against
// GitHub's OpenAPI description and answers the operations Pitwall uses,
// and webhook payloads from GitHub's examples, checked against GitHub's
// JSON Schemas and delivered signed as GitHub delivers them.
//
// The material comes from pinned npm packages fetched on first use and
// cached (see testenv.NPMPackage): under CI a test fails when it cannot be
// had, elsewhere it is skipped.
package githubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// enterprisePrefix is where GitHub Enterprise Server serves the REST API,
// and where go-github's WithEnterpriseURLs sends its requests.
const enterprisePrefix = "/api/v3"

// Server is a fake api.github.com for one test. Every request is recorded,
// checked against GitHub's OpenAPI description and, when valid, answered
// from a small in-memory repository state.
type Server struct {
	*httptest.Server // URL is the base URL, with or without /api/v3

	spec *spec

	mu       sync.Mutex
	requests []Request
	failures []*failure
	state    state
}

// Request is one request the server received and what it answered.
type Request struct {
	Time   time.Time
	Method string
	// Path is the path as api.github.com would see it: without /api/v3.
	Path   string
	Query  url.Values
	Header http.Header // all of them: Authorization, Accept, User-Agent, X-GitHub-Api-Version…
	Body   []byte
	// OperationID is GitHub's name for the operation, such as
	// repos/create-commit-status; empty when the path and method are none.
	OperationID string
	// Invalid says why GitHub's description refuses the request; empty when
	// the request is valid.
	Invalid string
	// Injected says the answer came from FailNext.
	Injected bool
	Status   int    // the status answered
	Response []byte // the body answered
}

// NewServer starts a server for the test and closes it when the test ends.
// A client reaches it with github.NewClient(nil).WithEnterpriseURLs(srv.URL,
// srv.URL) or with BaseURL set to srv.URL + "/".
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{spec: loadSpec(t), state: newState()}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Calls returns the requests for one operation, such as
// "issues/create-comment", in order.
func (s *Server) Calls(operationID string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.OperationID == operationID {
			out = append(out, r)
		}
	}
	return out
}

// Invalid returns the requests GitHub's description refuses; a test of a
// GitHub client asserts it is empty.
func (s *Server) Invalid() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Invalid != "" {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the recorded requests and the failures not yet answered.
// The repository state (comments, check runs, permissions) stays, so a
// test can reset between two steps of one story.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.failures = nil
}

// serve records one request, validates it and answers it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	apiPath := r.URL.Path
	if rest, ok := strings.CutPrefix(apiPath, enterprisePrefix); ok && (rest == "" || rest[0] == '/') {
		apiPath = "/" + strings.TrimPrefix(rest, "/")
	}
	rec := Request{
		Time: time.Now(), Method: r.Method, Path: apiPath, Query: r.URL.Query(),
		Header: r.Header.Clone(), Body: body,
	}
	a := s.answer(r, &rec)
	s.mu.Lock()
	rec.Status, rec.Response = a.status, a.body
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	s.write(w, a)
}

// reply is what the server answers one request.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// answer routes and validates the request against GitHub's description,
// then answers with an injected failure or the operation's handler.
func (s *Server) answer(r *http.Request, rec *Request) reply {
	// Route and validate the request as api.github.com would receive it.
	req := r.Clone(r.Context())
	req.URL.Path, req.URL.RawPath = rec.Path, ""
	req.Body = io.NopCloser(bytes.NewReader(rec.Body))
	route, params, err := s.spec.router.FindRoute(req)
	if err != nil {
		// GitHub answers 404 to a path or method it does not have.
		rec.Invalid = fmt.Sprintf("%s %s is no operation of GitHub's REST API: %v", rec.Method, rec.Path, err)
		return errorReply(http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
	}
	rec.OperationID = route.Operation.OperationID
	docs := "https://docs.github.com/rest"
	if d := route.Operation.ExternalDocs; d != nil {
		docs = d.URL
	}
	if nullBody(route, rec.Body) {
		// go-github encodes a nil options pointer as null, which GitHub
		// takes as no body; the description says object, where optional.
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if err := validate(r.Context(), req, route, params); err != nil {
		rec.Invalid = err.Error()
		return errorReply(http.StatusUnprocessableEntity, "Invalid request.\n\n"+err.Error(), docs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.takeFailure(rec.Method, route.Path, rec.Path); f != nil {
		rec.Injected = true
		return reply{status: f.Status, header: f.Header.Clone(), body: f.Body}
	}
	h := handlers[rec.OperationID]
	if h == nil {
		return errorReply(http.StatusNotFound, "Not Found", docs)
	}
	var in map[string]any
	if len(rec.Body) > 0 {
		// Valid by now, so an object or null.
		_ = json.Unmarshal(rec.Body, &in)
	}
	c := &call{params: params, query: rec.Query, body: in}
	status, out := h(s, c)
	if c.invalid != "" {
		rec.Invalid = c.invalid
		return errorReply(status, "Validation Failed: "+c.invalid, docs)
	}
	if out == nil {
		return reply{status: status, header: c.header}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return errorReply(http.StatusInternalServerError, err.Error(), docs)
	}
	return reply{status: status, header: c.header, body: b}
}

// nullBody says whether body is a JSON null sent to an operation whose
// body is optional.
func nullBody(route *routers.Route, body []byte) bool {
	rb := route.Operation.RequestBody
	return string(bytes.TrimSpace(body)) == "null" && (rb == nil || rb.Value == nil || !rb.Value.Required)
}

// validate checks the request against its operation: path and query
// parameters and body. Authentication is not GitHub's to check here.
func validate(ctx context.Context, req *http.Request, route *routers.Route, params map[string]string) error {
	opts := &openapi3filter.Options{
		AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
		MultiError:                        true,
		RejectWhenRequestBodyNotSpecified: true,
		SkipSettingDefaults:               true,
	}
	opts.WithCustomSchemaErrorFunc(schemaMessage)
	err := openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route, Options: opts,
	})
	var me openapi3.MultiError
	if errors.As(err, &me) {
		msgs := make([]string, len(me))
		for i, e := range me {
			msgs[i] = e.Error()
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}

// schemaMessage says where a value breaks its schema in one line, rather
// than kin-openapi's default of the whole schema (pages, for GitHub's).
func schemaMessage(err *openapi3.SchemaError) string {
	if err.Reason == "" {
		return ""
	}
	v, _ := json.Marshal(err.Value)
	if len(v) > 80 {
		v = append(v[:77:77], "..."...)
	}
	return fmt.Sprintf("at /%s: %s (got %s)", strings.Join(err.JSONPointer(), "/"), err.Reason, v)
}

// write sends a reply with the headers api.github.com sends with every
// answer; a failure's own headers win.
func (s *Server) write(w http.ResponseWriter, a reply) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("0000:%04X:%06X", len(a.body), time.Now().UnixNano()&0xffffff))
	s.mu.Lock()
	used := len(s.requests)
	s.mu.Unlock()
	h.Set("X-RateLimit-Limit", strconv.Itoa(rateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(rateLimit-used, 1)))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	for k, v := range a.header {
		h[k] = v
	}
	if a.status == http.StatusNoContent {
		h.Del("Content-Type")
		w.WriteHeader(a.status)
		return
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// rateLimit is an installation's hourly budget of requests on api.github.com.
const rateLimit = 5000

// errorReply is GitHub's shape of an error: a message, where the docs
// explain it, and the status again as a string.
func errorReply(status int, message, docs string) reply {
	b, _ := json.Marshal(map[string]string{
		"message":           message,
		"documentation_url": docs,
		"status":            strconv.Itoa(status),
	})
	return reply{status: status, body: b}
}
