// Package jsonapi serves Pitwall's JSON API under /api/v1: each handler
// decodes a request, calls one service operation and encodes its answer;
// fail maps the services' errors to status codes in one place.
package jsonapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/accounts"
	"github.com/pitwall/pitwall/service/agents"
	alertsvc "github.com/pitwall/pitwall/service/alerts"
	"github.com/pitwall/pitwall/service/changepoints"
	"github.com/pitwall/pitwall/service/frameworks"
	ghsvc "github.com/pitwall/pitwall/service/github"
	"github.com/pitwall/pitwall/service/retention"
	"github.com/pitwall/pitwall/service/schedules"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/httperr"
	"github.com/pitwall/pitwall/ui/route"
)

// API holds the services the handlers call.
type API struct {
	Tests        *tests.Service
	Frameworks   *frameworks.Service
	ChangePoints *changepoints.Service
	Accounts     *accounts.Service
	Agents       *agents.Service
	// GitHub is the GitHub connection and webhook (nil: no GitHub routes).
	GitHub *ghsvc.Service
	// Alerts are alerts and notification channels (nil: no alert routes).
	Alerts *alertsvc.Service
	// Schedules are the frameworks' scheduled runs.
	Schedules *schedules.Service
	// Retention is teams' retention and pinned tests (nil: no retention routes).
	Retention *retention.Service
	Log       *slog.Logger
}

// Routes registers the API's endpoints on mux, each with its policy (who
// may use it, the body it takes); a route without one takes small bodies
// from anyone authenticated.
func (a *API) Routes(mux *route.Mux) {
	a.testRoutes(mux)
	a.artifactRoutes(mux)
	a.frameworkRoutes(mux)
	a.changePointRoutes(mux)
	a.agentRoutes(mux)
	a.ingestRoutes(mux.ServeMux)
	batch := route.Policy{Need: route.Agent, Body: maxIngestBody, Long: true}
	mux.Set("POST "+ingest.SamplesPath, batch)
	mux.Set("POST "+ingest.LogsPath, batch)
	a.accountRoutes(mux)
	a.tokenRoutes(mux)
	a.githubRoutes(mux)
	a.alertRoutes(mux)
	a.scheduleRoutes(mux)
	a.confirmRoutes(mux)
	a.noiseRoutes(mux)
	a.retentionRoutes(mux)
	mux.HandleFunc("GET /api/v1/openapi.json", a.openapi)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, "")
	})
}

// fail answers a service error with its status, message and field;
// anything else is logged and answered 500.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := httperr.Explain(a.Log, r, err)
	writeError(w, status, msg, httperr.Field(err))
}

// decodeJSON reads a JSON request body into v, strictly; the route bounds
// the body.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return service.InvalidField("", fmt.Sprintf("content type %q is not application/json", ct))
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError("request body", err)
	}
	return nil
}

// bodyError is the refusal of a body that could not be read: too large
// for its route (413), or not what was expected (400).
func bodyError(what string, err error) error {
	if limit, ok := route.IsTooLarge(err); ok {
		return service.Errorf(service.TooLarge, "", "%s", route.TooLarge(limit))
	}
	return service.InvalidField("", what+": "+err.Error())
}

// pathInt reads the path value name as a positive number, 0 when it is
// not one: the service refuses 0 with its own message.
func pathInt(r *http.Request, name string) int64 {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// pathID reads the test ID of the path.
func pathID(r *http.Request) (int64, error) {
	id := pathInt(r, "id")
	if id == 0 {
		return 0, service.InvalidField("id", fmt.Sprintf("test ID %q is not a positive number", r.PathValue("id")))
	}
	return id, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg, field string) {
	writeJSON(w, status, wire.Error{Error: msg, Field: field})
}

// answer writes v with status, or the error.
func (a *API) answer(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, status, v)
}
