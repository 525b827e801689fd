package githubtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/pitwall/pitwall/internal/testenv"
)

// The published material the kit plays GitHub from, pinned by the
// registry's integrity strings (`npm view NAME@VERSION dist.integrity`).
var (
	// GitHub's OpenAPI description of the REST API, as Octokit republishes it.
	openAPIPackage = testenv.NPMPackage{
		Name:      "@octokit/openapi",
		Version:   "23.0.2",
		Integrity: "sha512-pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg==",
		Files:     []string{openAPIFile},
	}
	// Example webhook payloads, per event and action.
	examplesPackage = testenv.NPMPackage{
		Name:      "@octokit/webhooks-examples",
		Version:   "7.6.1",
		Integrity: "sha512-De6U3XB6O3DtCa7bKgCMzTHdeopqqZ6SNivMYJnK65ierKL1AnNIA0tkRYCRS7lwGT792d+Ps1WbfHlso6MynQ==",
		Files:     []string{examplesFile},
	}
	// The JSON Schema (draft-07) of every webhook payload.
	schemasPackage = testenv.NPMPackage{
		Name:      "@octokit/webhooks-schemas",
		Version:   "7.6.1",
		Integrity: "sha512-qW0Bwtb76r4m2WzVhKDyfEeEnt1GEQoRjkCqmq2ZeB0nNVDJ+Z2LBDS9FDPyduuMXf/ZTWiCJp9PFFHgRfBe3A==",
		Files:     []string{schemaFile},
	}
)

const (
	openAPIFile  = "generated/api.github.com.json"
	examplesFile = "api.github.com/index.json"
	schemaFile   = "schema.json"
)

// spec is GitHub's OpenAPI description, loaded once per test binary: it
// is 13 MB and takes seconds to load.
type spec struct {
	doc    *openapi3.T
	router routers.Router
	took   time.Duration // to read, parse and route
}

var loadedSpec struct {
	once sync.Once
	spec *spec
	err  error
}

// loadSpec returns GitHub's OpenAPI description, or ends the test when the
// package cannot be had (testenv's rule) or does not load.
func loadSpec(t testing.TB) *spec {
	t.Helper()
	dir := openAPIPackage.Require(t)
	loadedSpec.once.Do(func() {
		loadedSpec.spec, loadedSpec.err = readSpec(filepath.Join(dir, filepath.FromSlash(openAPIFile)))
	})
	if loadedSpec.err != nil {
		t.Fatalf("GitHub's OpenAPI description (%s): %v", openAPIPackage, loadedSpec.err)
	}
	return loadedSpec.spec
}

// readSpec loads the description for routing and request validation.
//
// Two things of the document are left as they are rather than fixed:
// doc.Validate refuses it (an example of the wrong type in
// actions-hosted-runner; two GET and DELETE paths that differ only by a
// parameter's name under /orgs/{org}/attestations/), so it is not validated
// as a whole and the legacy router, which insists on validating, is not
// used. The gorillamux router matches paths with fewer parameters first,
// so /repos/{owner}/{repo}/issues/comments wins over
// /repos/{owner}/{repo}/issues/{issue_number}. Requests are still
// validated against their operation's schemas, which load fine.
func readSpec(file string) (*spec, error) {
	start := time.Now()
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	// Routes match on the path alone: the server is whatever URL the test has.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route: %w", err)
	}
	s := &spec{doc: doc, router: router, took: time.Since(start)}
	for _, name := range exampleNames {
		if _, err := s.example(name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// exampleNames are the examples in components/examples that the server's
// answers are built on.
var exampleNames = []string{
	"status", "check-run", "issue-comment", "reaction", "integration", "installation-token",
	"repository-collaborator-permission-response-if-user-has-admin-permissions", "simple-user", "pull-request",
}

// example returns a fresh copy of one of GitHub's example values, to be
// changed by the caller.
func (s *spec) example(name string) (map[string]any, error) {
	ref := s.doc.Components.Examples[name]
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("no example %q in components/examples", name)
	}
	b, err := json.Marshal(ref.Value.Value)
	if err != nil {
		return nil, fmt.Errorf("example %q: %w", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("example %q is not an object: %w", name, err)
	}
	return m, nil
}

// mustExample is example for the names readSpec checked.
func (s *spec) mustExample(name string) map[string]any {
	m, err := s.example(name)
	if err != nil {
		panic(err)
	}
	return m
}
