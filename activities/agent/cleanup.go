package agent

import (
	"context"
	"fmt"
	"os"
)

// Cleanup stops whatever still runs of a test (every process of every run's
// tree) and removes the test's directories from the agent. It runs after
// every ending, and running it twice is harmless.
func (a *Activities) Cleanup(ctx context.Context, testID int64) error {
	a.state.with(testID, func(ts *testState) { ts.logLines, ts.logDropped, ts.setupFailed = 0, 0, false })
	if err := a.removeTest(testID); err != nil {
		return err
	}
	a.state.forget(testID)
	return nil
}

// removeTest stops a test's runs and removes its directories. Removal
// never follows a link the script planted: os.RemoveAll unlinks links.
func (a *Activities) removeTest(testID int64) error {
	a.stopRuns(testID)
	if err := a.removeContainers(testID); err != nil {
		return err
	}
	if err := os.RemoveAll(a.testDir(testID)); err != nil {
		return fmt.Errorf("remove test directory: %w", err)
	}
	if err := os.RemoveAll(a.runsDir(testID)); err != nil {
		return fmt.Errorf("remove run state: %w", err)
	}
	return nil
}
