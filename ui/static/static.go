// Package static serves the UI's scripts and styles from the binary: the
// vendored htmx and uPlot (no CDN) and Pitwall's own. URLs carry a content
// hash, so browsers may cache them for a year.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed *.js *.css vendor/*.js vendor/*.css
var files embed.FS

var hashes = func() map[string]string {
	h := map[string]string{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	return h
}()

// URL returns the cache-busting URL of an embedded file, such as
// "vendor/htmx.min.js"; it panics on a name that is not embedded, so a
// typo fails the first render in tests rather than a user's page.
func URL(name string) string {
	v, ok := hashes[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return "/static/" + name + "?v=" + v
}

// Handler serves GET /static/{path...}.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		b, err := files.ReadFile(name)
		if err != nil || strings.Contains(name, "..") {
			http.NotFound(w, r)
			return
		}
		if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		if r.URL.Query().Get("v") == hashes[name] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		_, _ = w.Write(b)
	})
}
