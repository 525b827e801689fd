package temporaldev

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/modfile"
)

// unshared are the modules deploy/temporal keeps at other versions than
// Pitwall's go.mod: server v1.30.8 does not build with the Temporal API
// that Pitwall's SDK needs (its clients lack the API's newer methods).
var unshared = map[string]bool{
	"go.temporal.io/api":          true,
	"go.temporal.io/sdk":          true,
	"github.com/nexus-rpc/sdk-go": true,
}

// TestServerModulesMatchPitwall keeps deploy/temporal's go.mod at
// Pitwall's versions of every module both require: Go reuses a compiled
// package only at the same version, and a cold demo compiles the server
// right after Pitwall's binaries (docs/performance.md, "Shared compiles
// and a compiler without GC": 100 of 1,056 compile seconds).
func TestServerModulesMatchPitwall(t *testing.T) {
	t.Parallel()
	pitwall, server := requires(t, "../../go.mod"), requires(t, "../../deploy/temporal/go.mod")
	checked := 0
	for path, v := range server {
		pv, ok := pitwall[path]
		if !ok || unshared[path] {
			continue
		}
		checked++
		if v != pv {
			t.Errorf("deploy/temporal requires %s %s, Pitwall %s: run (cd deploy/temporal && GOWORK=off go get %s@%s && go mod tidy)",
				path, v, pv, path, pv)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d modules in both go.mod files; expected the server's gRPC, OpenTelemetry, Google Cloud... (is the parse right?)", checked)
	}
}

// requires reads a go.mod's required modules and their versions.
func requires(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseLax(path, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range f.Require {
		out[r.Mod.Path] = r.Mod.Version
	}
	return out
}
