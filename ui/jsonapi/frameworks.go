package jsonapi

import (
	"io"
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/ui/route"
)

func (a *API) frameworkRoutes(mux *route.Mux) {
	mux.HandleFunc("GET /api/v1/frameworks", a.frameworkList)
	mux.Route("POST /api/v1/frameworks", route.Policy{Need: route.Member, Body: frameworks.MaxFile}, a.frameworkApply)
	mux.HandleFunc("GET /api/v1/frameworks/{name}", a.frameworkGet)
	mux.HandleFunc("GET /api/v1/frameworks/{name}/versions", a.frameworkVersions)
	mux.HandleFunc("GET /api/v1/frameworks/{name}/versions/{version}", a.frameworkVersion)
	mux.Route("POST /api/v1/frameworks/{name}/clone", route.Policy{Need: route.Member}, a.frameworkClone)
}

// ref is the framework the path names in the team of ?team= (default "default").
func ref(r *http.Request) frameworks.Ref {
	return frameworks.Ref{Team: r.URL.Query().Get("team"), Name: r.PathValue("name")}
}

func (a *API) frameworkList(w http.ResponseWriter, r *http.Request) {
	list, err := a.Frameworks.List(r.Context())
	a.answer(w, r, http.StatusOK, wire.List[wire.FrameworkInfo]{Items: list}, err)
}

func (a *API) frameworkGet(w http.ResponseWriter, r *http.Request) {
	info, err := a.Frameworks.Get(r.Context(), ref(r))
	a.answer(w, r, http.StatusOK, info, err)
}

// frameworkApply takes a framework file as YAML (or its JSON form) and
// creates the framework (201) or a new version of it.
func (a *API) frameworkApply(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		a.fail(w, r, bodyError("framework file", err))
		return
	}
	res, err := a.Frameworks.Apply(r.Context(), body)
	status := http.StatusOK
	if res.Changed && res.Framework.Version == 1 {
		status = http.StatusCreated
	}
	a.answer(w, r, status, res, err)
}

func (a *API) frameworkVersions(w http.ResponseWriter, r *http.Request) {
	list, err := a.Frameworks.Versions(r.Context(), ref(r))
	a.answer(w, r, http.StatusOK, wire.List[store.FrameworkVersion]{Items: list}, err)
}

func (a *API) frameworkVersion(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		v = 0
	}
	info, err := a.Frameworks.Version(r.Context(), ref(r), v)
	a.answer(w, r, http.StatusOK, info, err)
}

// frameworkClone copies a framework under a new name: {"name": "..."}.
func (a *API) frameworkClone(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.Frameworks.Clone(r.Context(), ref(r), req.Name)
	a.answer(w, r, http.StatusCreated, res, err)
}
