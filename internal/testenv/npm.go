package testenv

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pitwall/pitwall/internal/filelock"
)

// NPMPackage is published material that tests read from an npm package
// (GitHub's OpenAPI description, its webhook examples and schemas), pinned
// by version and by the registry's integrity string so that a test never
// runs on material other than what it was written against.
type NPMPackage struct {
	Name      string // as npm spells it, scope included: @octokit/openapi
	Version   string
	Integrity string // the registry's dist.integrity: "sha512-" and the base64 digest of the tarball
	// Files are the paths inside the package that tests read; only they are
	// kept in the cache. None keeps the whole package.
	Files []string
}

// npmRegistry is where tarballs come from unless PITWALL_NPM_REGISTRY
// names a mirror; the integrity check makes any mirror as good as the source.
const npmRegistry = "https://registry.npmjs.org"

// String names the package as npm does: name@version.
func (p NPMPackage) String() string { return p.Name + "@" + p.Version }

// Dir is the folder the package is extracted into:
// $PITWALL_CACHE_DIR/npm/NAME@VERSION, or pitwall/npm/NAME@VERSION under
// the user's cache folder.
func (p NPMPackage) Dir() (string, error) {
	root := os.Getenv("PITWALL_CACHE_DIR")
	if root == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find a cache folder for npm packages (set PITWALL_CACHE_DIR): %w", err)
		}
		root = filepath.Join(cache, "pitwall")
	}
	return filepath.Join(root, "npm", filepath.FromSlash(p.String())), nil
}

// Fetch returns the folder holding the package's files (without the
// tarball's top folder). The first call downloads the tarball, checks its
// integrity and extracts it into a temporary folder renamed into place once
// complete; later calls, from any process, only look.
func (p NPMPackage) Fetch(ctx context.Context) (string, error) {
	dir, err := p.Dir()
	if err != nil {
		return "", err
	}
	if p.complete(dir) {
		return dir, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("npm %s: create %s: %w", p, parent, err)
	}
	// Test packages run in parallel and may all ask on a fresh machine: one
	// downloads while the others wait, then find the folder in place.
	unlock, err := filelock.Lock(dir + ".lock")
	if err != nil {
		return "", fmt.Errorf("npm %s: %w", p, err)
	}
	defer unlock()
	if p.complete(dir) {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(parent, ".npm-")
	if err != nil {
		return "", fmt.Errorf("npm %s: %w", p, err)
	}
	defer os.RemoveAll(tmp)
	if err := p.download(ctx, tmp); err != nil {
		return "", fmt.Errorf("npm %s: %w", p, err)
	}
	// An older folder lacking files asked for since is replaced whole.
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("npm %s: remove the incomplete %s: %w", p, dir, err)
	}
	if err := os.Rename(filepath.Join(tmp, "package"), dir); err != nil {
		return "", fmt.Errorf("npm %s: move into %s: %w", p, dir, err)
	}
	return dir, nil
}

// Require returns the package's folder, or ends the test: under CI (CI=true)
// material that cannot be had is a failure, elsewhere the test is skipped
// with the reason.
func (p NPMPackage) Require(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := p.Fetch(ctx)
	if err == nil {
		return dir
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI needs an npm package that could not be had: %v", err)
	}
	t.Skipf("skipped, an npm package could not be had: %v", err)
	return ""
}

// complete says whether dir holds the package: the folder only appears
// once fully extracted, so its presence is enough unless files are asked
// for that an older extraction did not keep.
func (p NPMPackage) complete(dir string) bool {
	if _, err := os.Stat(dir); err != nil {
		return false
	}
	for _, f := range p.Files {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			return false
		}
	}
	return true
}

// tarballURL follows the registry's layout: NAME/-/BASENAME-VERSION.tgz,
// the scope dropped from the file name.
func (p NPMPackage) tarballURL() string {
	registry := strings.TrimSuffix(os.Getenv("PITWALL_NPM_REGISTRY"), "/")
	if registry == "" {
		registry = npmRegistry
	}
	return fmt.Sprintf("%s/%s/-/%s-%s.tgz", registry, p.Name, path.Base(p.Name), p.Version)
}

// download fetches the tarball into tmp, checks it against the pinned
// integrity, and extracts it into tmp/package.
func (p NPMPackage) download(ctx context.Context, tmp string) error {
	want, ok := strings.CutPrefix(p.Integrity, "sha512-")
	if !ok {
		return fmt.Errorf("pinned integrity %q is not sha512-BASE64", p.Integrity)
	}
	url := p.tarballURL()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s", url, resp.Status)
	}
	tgz, err := os.Create(filepath.Join(tmp, "package.tgz"))
	if err != nil {
		return err
	}
	defer tgz.Close()
	h := sha512.New()
	if _, err := io.Copy(io.MultiWriter(tgz, h), resp.Body); err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s has integrity sha512-%s, pinned %s", url, got, p.Integrity)
	}
	if _, err := tgz.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := p.extract(tgz, filepath.Join(tmp, "package")); err != nil {
		return fmt.Errorf("extract %s: %w", url, err)
	}
	for _, f := range p.Files {
		if _, err := os.Stat(filepath.Join(tmp, "package", filepath.FromSlash(f))); err != nil {
			return fmt.Errorf("the package has no %s", f)
		}
	}
	return nil
}

// extract writes the tarball's regular files into dest, dropping the top
// folder every npm tarball has (usually package/) and keeping only p.Files
// when they are named.
func (p NPMPackage) extract(r io.Reader, dest string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	keep, kept := map[string]bool{}, map[string]bool{}
	for _, f := range p.Files {
		keep[f] = true
	}
	tr := tar.NewReader(zr)
	// With files named, stop once they are out: the OpenAPI package holds
	// 400 MB of other descriptions that nobody reads.
	for len(keep) == 0 || len(kept) < len(keep) {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue // npm packs files only; links could escape dest
		}
		_, name, ok := strings.Cut(path.Clean(hdr.Name), "/")
		if !ok || !fs.ValidPath(name) {
			return fmt.Errorf("unexpected entry %q", hdr.Name)
		}
		if len(keep) > 0 && !keep[name] {
			continue
		}
		file := filepath.Join(dest, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		kept[name] = true
	}
	return os.MkdirAll(dest, 0o755)
}
