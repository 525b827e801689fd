package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/temporal"
)

// SetupInput names the script a test runs on this agent.
type SetupInput struct {
	TestID int64
	// Script is an inline script; ScriptPath a file already on the agent.
	Script     string
	ScriptPath string
}

// SetupResult says where the test runs on the agent.
type SetupResult struct {
	Dir        string
	ResultsDir string
	Script     string
}

// ErrBadScript is the error type of a script that cannot run at all.
const ErrBadScript = "BadScript"

// Setup prepares a fresh working directory (which is also the results
// directory) and puts the script in place. Running it again starts afresh.
func (a *Activities) Setup(ctx context.Context, in SetupInput) (*SetupResult, error) {
	dir := a.testDir(in.TestID)
	res := &SetupResult{Dir: dir, ResultsDir: resultsDir(dir)}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := os.MkdirAll(res.ResultsDir, 0o755); err != nil {
		return nil, fmt.Errorf("create results directory: %w", err)
	}
	if in.ScriptPath != "" {
		st, err := os.Stat(in.ScriptPath)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("script %s does not exist on agent %s", in.ScriptPath, a.Host), ErrBadScript, err)
		case err != nil:
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("script %s on agent %s: %v", in.ScriptPath, a.Host, err), ErrBadScript, err)
		case st.IsDir():
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("script %s on agent %s is a directory", in.ScriptPath, a.Host), ErrBadScript, nil)
		}
		res.Script = in.ScriptPath
		return res, nil
	}
	res.Script = filepath.Join(dir, "script")
	if err := os.WriteFile(res.Script, []byte(in.Script), 0o755); err != nil {
		return nil, fmt.Errorf("write script: %w", err)
	}
	return res, nil
}
