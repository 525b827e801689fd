package jsonapi

import (
	"io"
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/frameworks"
)

func (a *API) frameworkRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/frameworks", a.frameworkList)
	mux.HandleFunc("POST /api/v1/frameworks", a.frameworkApply)
	mux.HandleFunc("GET /api/v1/frameworks/{name}", a.frameworkGet)
	mux.HandleFunc("GET /api/v1/frameworks/{name}/versions", a.frameworkVersions)
	mux.HandleFunc("GET /api/v1/frameworks/{name}/versions/{version}", a.frameworkVersion)
	mux.HandleFunc("POST /api/v1/frameworks/{name}/clone", a.frameworkClone)
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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		a.fail(w, r, service.Errorf(service.TooLarge, "", "framework file is larger than %d bytes", maxBody))
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
	if err := decodeJSON(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.Frameworks.Clone(r.Context(), ref(r), req.Name)
	a.answer(w, r, http.StatusCreated, res, err)
}
