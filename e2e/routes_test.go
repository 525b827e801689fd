package e2e

import (
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/ingest"
)

// routePattern finds the routes the server registers: mux.Handle,
// HandleFunc or Route (with its policy) with "METHOD /path" (the ingest
// paths are constants).
var routePattern = regexp.MustCompile(`\.(?:Handle(?:Func)?|Route)\("([A-Z]+) (/[^"]*)"(\+ingest\.(\w+))?`)

// matrixRow finds the matrix's rows: {"METHOD", "/path", ...
var matrixRow = regexp.MustCompile(`\{"(GET|POST|PUT|PATCH|DELETE)", "([^"]*)"`)

// Every route the server registers is a row of the authorisation matrix,
// so a new endpoint cannot be added without saying who may use it.
func TestAuthorizationMatrixCoversEveryRoute(t *testing.T) {
	t.Parallel()
	var routes [][2]string
	ingestPaths := map[string]string{"SamplesPath": ingest.SamplesPath, "LogsPath": ingest.LogsPath, "ArtifactsPath": ingest.ArtifactsPath}
	err := filepath.WalkDir("../ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range routePattern.FindAllStringSubmatch(string(src), -1) {
			p := m[2]
			if m[4] != "" {
				p = ingestPaths[m[4]]
			}
			if p != "/static/" && p != "/api/" {
				routes = append(routes, [2]string{m[1], p})
			}
		}
		return err
	})
	require.NoError(t, err)
	require.Greater(t, len(routes), 60, "the routes were found")

	src, err := os.ReadFile("authz_test.go")
	require.NoError(t, err)
	text := strings.ReplaceAll(string(src), `" + agentName + "`, agentName)
	text = strings.ReplaceAll(text, `" + agentName`, agentName+`"`)
	var rows [][2]string
	for _, m := range matrixRow.FindAllStringSubmatch(text, -1) {
		u, err := url.Parse(m[2])
		require.NoError(t, err)
		rows = append(rows, [2]string{m[1], u.Path})
	}
	for _, r := range routes {
		segs := strings.Split(r[1], "/")
		for i, seg := range segs {
			switch {
			case seg == "{$}":
				segs[i] = ""
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "...}"):
				segs[i] = ".+"
			case strings.HasPrefix(seg, "{"):
				segs[i] = "[^/]+"
			default:
				segs[i] = regexp.QuoteMeta(seg)
			}
		}
		re := regexp.MustCompile("^" + strings.Join(segs, "/") + "$")
		covered := slices.ContainsFunc(rows, func(row [2]string) bool { return row[0] == r[0] && re.MatchString(row[1]) })
		assert.True(t, covered, "route %s %s has no row in the authorisation matrix", r[0], r[1])
	}
	t.Logf("%d routes, each a row of the authorisation matrix", len(routes))
}
