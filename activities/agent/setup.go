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
	"syscall"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/workflows/contract"
)

// Setup prepares a fresh test directory with the script in place, and the
// results directory the script runs in. Running it again starts afresh:
// whatever an earlier attempt started is stopped first.
func (a *Activities) Setup(ctx context.Context, in contract.SetupInput) (*contract.SetupResult, error) {
	defer a.touch(in.TestID)()
	u, err := a.scriptUser(in.TestID)
	if err != nil {
		return nil, err
	}
	dir := a.testDir(in.TestID)
	res := &contract.SetupResult{Dir: dir, ResultsDir: resultsDir(dir)}
	if err := a.removeTest(in.TestID); err != nil {
		return nil, err
	}
	if err := makeTestDirs(dir, u); err != nil {
		return nil, fmt.Errorf("create test directory: %w", err)
	}
	if in.ScriptPath != "" {
		if err := a.checkPath("script", in.ScriptPath); err != nil {
			return nil, err
		}
		res.Script = in.ScriptPath
	} else {
		res.Script = filepath.Join(dir, "script")
		if err := writeScript(res.Script, in.Script, u); err != nil {
			return nil, fmt.Errorf("write script: %w", err)
		}
	}
	res.ScriptSHA256 = fileSHA256(res.Script)
	for _, h := range in.Hooks {
		switch {
		case h.Path != "":
			if err := a.checkPath("hook "+h.Name, h.Path); err != nil {
				return nil, err
			}
			addHook(res, h.Name, h.Path)
		case h.Script != "":
			p := filepath.Join(dir, "hook-"+h.Name)
			if err := writeScript(p, h.Script, u); err != nil {
				return nil, fmt.Errorf("write hook %s: %w", h.Name, err)
			}
			addHook(res, h.Name, p)
		}
	}
	res.Done = time.Now()
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
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
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
	case !st.Mode().IsRegular():
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s %s on agent %s is not a regular file", what, path, a.Host), contract.ErrBadScript, nil)
	}
	return nil
}
