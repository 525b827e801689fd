package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"
)

// The OpenAPI document the server serves is loaded once; every response
// the tests read through st.Call() is checked against it.
var spec struct {
	once   sync.Once
	router routers.Router
	err    error
}

func openapiRouter(t testing.TB) routers.Router {
	t.Helper()
	spec.once.Do(func() {
		resp, err := http.Get(st.URL + "/api/v1/openapi.json")
		if err != nil {
			spec.err = err
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			spec.err = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(data)
		if err != nil {
			spec.err = err
			return
		}
		if spec.err = doc.Validate(context.Background()); spec.err != nil {
			return
		}
		// Routes match on path alone: the server is whatever URL the test has.
		doc.Servers = nil
		spec.router, spec.err = legacy.NewRouter(doc)
	})
	require.NoError(t, spec.err)
	return spec.router
}

// checkResponse validates one live response against the OpenAPI document:
// the endpoint and status must be documented and the body must match.
func checkResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	route, params, err := openapiRouter(t).FindRoute(req)
	if err != nil && status == http.StatusNotFound {
		// An endpoint that does not exist still answers with an Error.
		var e struct {
			Error string `json:"error"`
		}
		require.NoError(t, json.Unmarshal(body, &e))
		require.NotEmpty(t, e.Error)
		return
	}
	require.NoError(t, err, "%s %s is not in the OpenAPI document", req.Method, req.URL.Path)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s answered %d with a body the OpenAPI document does not describe: %s", req.Method, req.URL.Path, status, body)
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	openapiRouter(t)
}
