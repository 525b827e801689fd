package jsonapi

import (
	"fmt"
	"net/http"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/route"
)

// confirmRoutes are confirmations of tests' verdicts (docs/confirmation.md).
func (a *API) confirmRoutes(mux *route.Mux) {
	member := route.Policy{Need: route.Member}
	mux.Route("POST /api/v1/tests/{id}/confirm", member, a.confirmStart)
	mux.Route("POST /api/v1/tests/{id}/bisect", member, a.bisectStart)
	mux.HandleFunc("GET /api/v1/tests/{id}/confirmations", a.confirmList)
	mux.HandleFunc("GET /api/v1/confirmations/{id}", a.confirmGet)
	mux.Route("POST /api/v1/confirmations/{id}/cancel", member, a.confirmCancel)
}

func (a *API) confirmStart(w http.ResponseWriter, r *http.Request) {
	var req wire.ConfirmRequest
	a.seriesStart(w, r, &req, func(id int64) (*wire.Confirmation, error) { return a.Tests.Confirm(r.Context(), id, req) })
}

func (a *API) bisectStart(w http.ResponseWriter, r *http.Request) {
	var req wire.BisectRequest
	a.seriesStart(w, r, &req, func(id int64) (*wire.Confirmation, error) { return a.Tests.Bisect(r.Context(), id, req) })
}

// seriesStart reads the path's test ID and the optional request body into
// req, then starts a confirmation or bisection of the test.
func (a *API) seriesStart(w http.ResponseWriter, r *http.Request, req any, start func(id int64) (*wire.Confirmation, error)) {
	id, err := pathID(r)
	if err == nil && r.ContentLength != 0 {
		err = decodeJSON(r, req)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := start(id)
	if err == nil {
		w.Header().Set("Location", tests.ConfirmationPath(c.ID))
	}
	a.answer(w, r, http.StatusCreated, c, err)
}

func (a *API) confirmList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	cs, err := a.Tests.Confirmations(r.Context(), id)
	a.answer(w, r, http.StatusOK, wire.List[wire.Confirmation]{Items: cs}, err)
}

// confirmationID reads the confirmation ID of the path.
func confirmationID(r *http.Request) (int64, error) {
	id := pathInt(r, "id")
	if id == 0 {
		return 0, service.InvalidField("id", fmt.Sprintf("confirmation ID %q is not a positive number", r.PathValue("id")))
	}
	return id, nil
}

func (a *API) confirmGet(w http.ResponseWriter, r *http.Request) {
	id, err := confirmationID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.Tests.Confirmation(r.Context(), id)
	a.answer(w, r, http.StatusOK, c, err)
}

func (a *API) confirmCancel(w http.ResponseWriter, r *http.Request) {
	id, err := confirmationID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.Tests.CancelConfirmation(r.Context(), id)
	a.answer(w, r, http.StatusAccepted, c, err)
}
