// Package noise measures hosts' noise floors end to end (docs/noise.md):
// a real Pitwall (e2e/stack: Temporal, PostgreSQL, the server, two agents)
// runs A/A series of a script whose figure has normal noise of a known
// size, and flags a host whose noise jumps.
package noise

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/ui/jsonapi"
)

var st *stack.Stack

func TestMain(m *testing.M) {
	supervise.Dispatch()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	st, err = stack.Start(ctx, stack.Options{Name: "noise", Agents: 2, Check: checkResponse, Build: []string{"cmd/pitwall-supervise"},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintf(os.Stderr, "noise set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}

// The OpenAPI document is loaded once, from the source the server embeds.
var spec struct {
	once   sync.Once
	router routers.Router
	err    error
}

// checkResponse validates one live answer against the OpenAPI document.
func checkResponse(tb testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	tb.Helper()
	spec.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(jsonapi.OpenAPI)
		if err != nil {
			spec.err = err
			return
		}
		doc.Servers = nil
		spec.router, spec.err = legacy.NewRouter(doc)
	})
	require.NoError(tb, spec.err)
	route, params, err := spec.router.FindRoute(req)
	require.NoError(tb, err, "%s %s is not in the OpenAPI document", req.Method, req.URL.Path)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	require.NoError(tb, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s answered %d with a body the OpenAPI document does not describe: %s", req.Method, req.URL.Path, status, body)
}
