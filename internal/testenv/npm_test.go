package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// registry serves one package's tarball at the registry's path and counts
// the downloads.
type registry struct {
	url       string
	tarball   []byte
	integrity string
	hits      *atomic.Int32
}

func setupRegistry(t *testing.T, files map[string]string) registry {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	sum := sha512.Sum512(buf.Bytes())
	r := registry{tarball: buf.Bytes(), integrity: "sha512-" + base64.StdEncoding.EncodeToString(sum[:]), hits: new(atomic.Int32)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/@acme/kit/-/kit-1.2.3.tgz" {
			http.NotFound(w, req)
			return
		}
		r.hits.Add(1)
		_, _ = w.Write(r.tarball)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	t.Setenv("PITWALL_NPM_REGISTRY", srv.URL)
	t.Setenv("PITWALL_CACHE_DIR", t.TempDir())
	return r
}

func TestNPMFetchExtractsOnceAndKeepsNamedFiles(t *testing.T) {
	reg := setupRegistry(t, map[string]string{
		"package/package.json":   `{"name":"@acme/kit"}`,
		"package/data/one.json":  `1`,
		"package/data/huge.json": `"not wanted"`,
	})
	p := NPMPackage{Name: "@acme/kit", Version: "1.2.3", Integrity: reg.integrity, Files: []string{"data/one.json"}}

	dir, err := p.Fetch(context.Background())
	require.NoError(t, err)
	require.Equal(t, filepath.Join(os.Getenv("PITWALL_CACHE_DIR"), "npm", "@acme", "kit@1.2.3"), dir)
	b, err := os.ReadFile(filepath.Join(dir, "data", "one.json"))
	require.NoError(t, err)
	require.Equal(t, "1", string(b))
	require.NoFileExists(t, filepath.Join(dir, "data", "huge.json"))

	again, err := p.Fetch(context.Background())
	require.NoError(t, err)
	require.Equal(t, dir, again)
	require.EqualValues(t, 1, reg.hits.Load(), "the second call must use the cache")

	// Asking for a file the cached extraction lacks fetches the package again.
	p.Files = append(p.Files, "package.json")
	_, err = p.Fetch(context.Background())
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "package.json"))
	require.EqualValues(t, 2, reg.hits.Load())
}

func TestNPMFetchRefusesAnotherTarball(t *testing.T) {
	setupRegistry(t, map[string]string{"package/index.js": "evil()"})
	other := sha512.Sum512([]byte("what was pinned"))
	p := NPMPackage{Name: "@acme/kit", Version: "1.2.3", Integrity: "sha512-" + base64.StdEncoding.EncodeToString(other[:])}

	_, err := p.Fetch(context.Background())
	require.ErrorContains(t, err, "pinned "+p.Integrity)
	dir, _ := p.Dir()
	require.NoDirExists(t, dir, "nothing unverified may land in the cache")
}

func TestNPMFetchSaysWhatIsMissing(t *testing.T) {
	reg := setupRegistry(t, map[string]string{"package/index.js": ""})

	_, err := NPMPackage{Name: "@acme/kit", Version: "9.9.9", Integrity: reg.integrity}.Fetch(context.Background())
	require.ErrorContains(t, err, "@acme/kit@9.9.9")
	require.ErrorContains(t, err, "404 Not Found")

	_, err = NPMPackage{Name: "@acme/kit", Version: "1.2.3", Integrity: reg.integrity, Files: []string{"schema.json"}}.Fetch(context.Background())
	require.ErrorContains(t, err, "the package has no schema.json")
}
