package containers

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// BuildSpec is an image to build from a directory at a commit.
type BuildSpec struct {
	Repo       string            // repository name, the image's name: pitwall/<repo>
	Commit     string            // the commit the context was checked out at
	ContextDir string            // build context on the host
	Dockerfile string            // relative to ContextDir; "Dockerfile" when empty
	Args       map[string]string // build args
}

// Built is the outcome of Build.
type Built struct {
	Image    string        // pitwall/<repo>:<commit>-<dockerfile digest12>
	Log      string        // the engine's build output, as text
	Reused   bool          // the image already existed: nothing was built
	Duration time.Duration // time spent, reuse included
}

var unsafeName = regexp.MustCompile(`[^a-z0-9._-]+`)

// Tag names the image for spec: the repository, the commit and the first
// twelve hex digits of the Dockerfile's SHA-256, so later tests of the same
// commit and Dockerfile reuse it.
func Tag(spec BuildSpec) (string, error) {
	df, err := os.ReadFile(filepath.Join(spec.ContextDir, dockerfile(spec)))
	if err != nil {
		return "", fmt.Errorf("read Dockerfile: %w", err)
	}
	sum := sha256.Sum256(df)
	repo := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(spec.Repo), "-"), "-._")
	commit := unsafeName.ReplaceAllString(strings.ToLower(spec.Commit), "-")
	if repo == "" || commit == "" {
		return "", fmt.Errorf("image tag needs a repository and a commit (got %q, %q)", spec.Repo, spec.Commit)
	}
	tag := commit + "-" + hex.EncodeToString(sum[:])[:12]
	if len(tag) > 128 {
		tag = tag[len(tag)-128:]
	}
	return "pitwall/" + repo + ":" + tag, nil
}

func dockerfile(spec BuildSpec) string {
	if spec.Dockerfile == "" {
		return "Dockerfile"
	}
	return spec.Dockerfile
}

// ImageExists reports whether the engine holds ref.
func (e *Engine) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := e.c.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Build builds spec's image unless the engine already holds it. A failed
// build returns its log in Built and the engine's message in the error.
func (e *Engine) Build(ctx context.Context, spec BuildSpec) (Built, error) {
	start := time.Now()
	tag, err := Tag(spec)
	if err != nil {
		return Built{}, err
	}
	if ok, err := e.ImageExists(ctx, tag); err != nil {
		return Built{}, err
	} else if ok {
		return Built{Image: tag, Reused: true, Duration: time.Since(start)}, nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarDir(pw, spec.ContextDir)) }()
	args := map[string]*string{}
	for k, v := range spec.Args {
		args[k] = &v
	}
	res, err := e.c.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags: []string{tag}, Dockerfile: dockerfile(spec), BuildArgs: args, Remove: true, ForceRemove: true,
		Labels: map[string]string{LabelBuilt: "1", "pitwall.commit": spec.Commit},
	})
	if err != nil {
		pr.CloseWithError(err)
		return Built{Image: tag}, fmt.Errorf("build %s: %w", tag, err)
	}
	defer res.Body.Close()
	log, buildErr := buildLog(res.Body)
	b := Built{Image: tag, Log: log, Duration: time.Since(start)}
	if buildErr != nil {
		return b, fmt.Errorf("build %s: %w", tag, buildErr)
	}
	return b, nil
}

// buildLog turns the engine's JSON message stream into text and returns
// the build's error message, if any.
func buildLog(r io.Reader) (string, error) {
	var sb strings.Builder
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Stream string `json:"stream"`
			Status string `json:"status"`
			Error  string `json:"error"`
			Aux    any    `json:"aux"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return sb.String(), nil
		} else if err != nil {
			return sb.String(), fmt.Errorf("read build output: %w", err)
		}
		sb.WriteString(m.Stream)
		if m.Status != "" {
			sb.WriteString(m.Status + "\n")
		}
		if m.Error != "" {
			sb.WriteString(m.Error + "\n")
			return sb.String(), fmt.Errorf("%s", m.Error)
		}
	}
}

// tarDir writes dir as a tar stream, names relative to dir, in a stable
// order. Symbolic links are stored as links, never followed.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && d.Name() == ".git" && d.IsDir() {
			return filepath.SkipDir
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// PruneImages removes images Pitwall built that are older than maxAge (when
// maxAge > 0), then the oldest until the rest fit in maxBytes (when
// maxBytes > 0). Images in use by a container stay. It returns the removed
// references.
func (e *Engine) PruneImages(ctx context.Context, maxBytes int64, maxAge time.Duration) ([]string, error) {
	res, err := e.c.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", LabelBuilt+"=1")})
	if err != nil {
		return nil, err
	}
	imgs := res.Items
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].Created > imgs[j].Created }) // newest first
	var removed []string
	var total int64
	for _, im := range imgs {
		old := maxAge > 0 && time.Since(time.Unix(im.Created, 0)) > maxAge
		big := maxBytes > 0 && total+im.Size > maxBytes
		if !old && !big {
			total += im.Size
			continue
		}
		if _, err := e.c.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{Force: false, PruneChildren: true}); err != nil {
			if cerrdefs.IsConflict(err) { // in use
				total += im.Size
				continue
			}
			return removed, fmt.Errorf("remove image %s: %w", im.ID, err)
		}
		ref := im.ID
		if len(im.RepoTags) > 0 {
			ref = im.RepoTags[0]
		}
		removed = append(removed, ref)
	}
	return removed, nil
}
