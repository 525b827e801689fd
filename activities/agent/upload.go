package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"go.temporal.io/sdk/activity"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/workflows/contract"
)

// upload sends every regular file the script left in its results
// directory to the server as an artifact. Symbolic links and other special
// files are not followed (a script cannot publish a file outside its
// directory). A file the server refuses (over a cap) is reported, not fatal.
func (a *Activities) upload(ctx context.Context, testID int64, dir string) (*contract.UploadResult, error) {
	res := &contract.UploadResult{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			if !d.IsDir() {
				res.Skipped = append(res.Skipped, fmt.Sprintf("artifact %s: not a regular file (a link or device); not kept", rel(dir, path)))
			}
			return nil
		}
		relPath := rel(dir, path)
		activity.RecordHeartbeat(ctx, relPath)
		info, err := d.Info()
		if err != nil {
			return err
		}
		err = a.Ingest.SendFile(ctx, testID, a.Host, relPath, path)
		var refused *ingest.ErrRefused
		switch {
		case errors.As(err, &refused):
			res.Refused = append(res.Refused, refused.Reason)
		case err != nil:
			return fmt.Errorf("upload %s: %w", relPath, err)
		default:
			res.Files++
			res.Bytes += info.Size()
		}
		return nil
	})
	return res, err
}

func rel(dir, path string) string {
	r, err := filepath.Rel(dir, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}
