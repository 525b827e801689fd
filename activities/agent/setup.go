package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/workflows/contract"
)

// Setup prepares a fresh working directory (which is also the results
// directory) and puts the script in place. Running it again starts afresh.
func (a *Activities) Setup(ctx context.Context, in contract.SetupInput) (*contract.SetupResult, error) {
	dir := a.testDir(in.TestID)
	res := &contract.SetupResult{Dir: dir, ResultsDir: resultsDir(dir)}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := os.MkdirAll(res.ResultsDir, 0o755); err != nil {
		return nil, fmt.Errorf("create results directory: %w", err)
	}
	if in.ScriptPath != "" {
		if err := a.checkPath("script", in.ScriptPath); err != nil {
			return nil, err
		}
		res.Script = in.ScriptPath
	} else {
		res.Script = filepath.Join(dir, "script")
		if err := os.WriteFile(res.Script, []byte(in.Script), 0o755); err != nil {
			return nil, fmt.Errorf("write script: %w", err)
		}
	}
	res.ScriptSHA256 = fileSHA256(res.Script)
	if cred, err := a.scriptCredential(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrBadScript, err)
	} else if cred != nil {
		// The unprivileged script owns its working directory, and nothing else.
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
		if err := os.Chown(res.ResultsDir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	for _, h := range in.Hooks {
		switch {
		case h.Path != "":
			if err := a.checkPath("hook "+h.Name, h.Path); err != nil {
				return nil, err
			}
			addHook(res, h.Name, h.Path)
		case h.Script != "":
			p := filepath.Join(dir, "hook-"+h.Name)
			if err := os.WriteFile(p, []byte(h.Script), 0o755); err != nil {
				return nil, fmt.Errorf("write hook %s: %w", h.Name, err)
			}
			addHook(res, h.Name, p)
		}
	}
	return res, nil
}

// addHook notes the file that runs a hook, and its digest.
func addHook(r *contract.SetupResult, name, path string) {
	if r.Hooks == nil {
		r.Hooks = map[string]string{}
		r.HookSHA256 = map[string]string{}
	}
	r.Hooks[name] = path
	r.HookSHA256[name] = fileSHA256(path)
}

// fileSHA256 is the hex SHA-256 of a file, or "" when it cannot be read.
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkPath makes sure a script named by path exists on this agent.
func (a *Activities) checkPath(what, path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s %s does not exist on agent %s", what, path, a.Host), contract.ErrBadScript, err)
	case err != nil:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s %s on agent %s: %v", what, path, a.Host, err), contract.ErrBadScript, err)
	case st.IsDir():
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s %s on agent %s is a directory", what, path, a.Host), contract.ErrBadScript, nil)
	}
	return nil
}
