package agent

import (
	"context"
	"fmt"
	"os"
)

// Cleanup removes a test's working directory from the agent. It runs after
// every ending, and running it twice is harmless.
func (a *Activities) Cleanup(ctx context.Context, testID int64) error {
	a.state.with(testID, func(ts *testState) { ts.logLines, ts.logDropped = 0, 0 })
	if err := os.RemoveAll(a.testDir(testID)); err != nil {
		return fmt.Errorf("remove test directory: %w", err)
	}
	return nil
}
