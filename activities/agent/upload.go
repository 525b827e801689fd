package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"

	"go.temporal.io/sdk/activity"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/workflows/contract"
)

// maxUploadDepth bounds how deep below the results directory files are
// kept: a script can nest directories without end.
const maxUploadDepth = 32

// upload sends every regular file the script left in its results
// directory to the server as an artifact, each read from the file opened
// through the confinement (so an entry swapped for a link after the
// listing is refused, not followed). Links, FIFOs, devices and sockets are
// noted in Skipped, never sent. A file the server refuses (over a cap) is
// reported, not fatal. Artifacts are named by their path below the
// results directory, under prefix when one is given (a multi-host test's
// host).
func (a *Activities) upload(ctx context.Context, testID int64, dir, prefix string) (*contract.UploadResult, error) {
	res := &contract.UploadResult{}
	up := &uploader{a: a, ctx: ctx, testID: testID, res: res}
	root, err := openResultsDir(dir)
	if err != nil {
		return res, up.skip("results directory", err)
	}
	defer root.Close()
	return res, up.dir(root, prefix, 0)
}

// uploader is one upload of a results directory.
type uploader struct {
	a      *Activities
	ctx    context.Context
	testID int64
	res    *contract.UploadResult
}

// dir sends what is in root, which is rel below the results directory,
// in name order.
func (u *uploader) dir(root *os.Root, rel string, depth int) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	slices.SortFunc(entries, func(x, y fs.DirEntry) int { return cmp.Compare(x.Name(), y.Name()) })
	for _, e := range entries {
		name := path.Join(rel, e.Name())
		if e.IsDir() {
			err = u.subdir(root, e.Name(), name, depth+1)
		} else {
			err = u.file(root, e.Name(), name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (u *uploader) subdir(root *os.Root, entry, rel string, depth int) error {
	if depth > maxUploadDepth {
		u.res.Skipped = append(u.res.Skipped, fmt.Sprintf("artifact %s: more than %d directories deep; not kept", rel, maxUploadDepth))
		return nil
	}
	sub, err := openSubdir(root, entry)
	if err != nil {
		return u.skip("artifact "+rel, err)
	}
	defer sub.Close()
	return u.dir(sub, rel, depth)
}

// file sends one entry of root, if it is a regular file.
func (u *uploader) file(root *os.Root, entry, rel string) error {
	f, info, err := openRegular(root, entry)
	if err != nil {
		return u.skip("artifact "+rel, err)
	}
	defer f.Close()
	activity.RecordHeartbeat(u.ctx, rel)
	err = u.a.Ingest.SendArtifact(u.ctx, u.testID, u.a.Host, rel, f, info.Size())
	var refused *ingest.ErrRefused
	switch {
	case errors.As(err, &refused):
		u.res.Refused = append(u.res.Refused, refused.Reason)
	case err != nil:
		return fmt.Errorf("upload %s: %w", rel, err)
	default:
		u.res.Files++
		u.res.Bytes += info.Size()
	}
	return nil
}

// skip notes an entry the confinement refused, and passes over one that
// is gone since the listing; any other error stands.
func (u *uploader) skip(what string, err error) error {
	var r *refusal
	switch {
	case errors.As(err, &r):
		u.res.Skipped = append(u.res.Skipped, fmt.Sprintf("%s: %s; not kept", what, r.why))
	case errors.Is(err, fs.ErrNotExist):
	default:
		return err
	}
	return nil
}
