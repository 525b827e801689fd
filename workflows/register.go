// Package workflows holds Pitwall's deterministic workflow code: PerfTest,
// which runs one test, and HostLease, which guards one host. What they
// share with the activities and the server (names, payloads) is in
// workflows/contract.
package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// Register registers every workflow under its contract name.
func Register(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(PerfTest, workflow.RegisterOptions{Name: contract.PerfTestWorkflow})
	w.RegisterWorkflowWithOptions(HostLease, workflow.RegisterOptions{Name: contract.HostLeaseWorkflow})
	w.RegisterWorkflowWithOptions(GitHubEvent, workflow.RegisterOptions{Name: contract.GitHubEventWorkflow})
	w.RegisterWorkflowWithOptions(Notify, workflow.RegisterOptions{Name: contract.NotifyWorkflow})
	w.RegisterWorkflowWithOptions(Announce, workflow.RegisterOptions{Name: contract.AnnounceWorkflow})
	w.RegisterWorkflowWithOptions(Confirm, workflow.RegisterOptions{Name: contract.ConfirmWorkflow})
	w.RegisterWorkflowWithOptions(Bisect, workflow.RegisterOptions{Name: contract.BisectWorkflow})
	w.RegisterWorkflowWithOptions(NoiseFloor, workflow.RegisterOptions{Name: contract.NoiseWorkflow})
	w.RegisterWorkflowWithOptions(ScheduledRun, workflow.RegisterOptions{Name: contract.ScheduledRunWorkflow})
	w.RegisterWorkflowWithOptions(ScheduledNoise, workflow.RegisterOptions{Name: contract.NoiseScheduleWorkflow})
	w.RegisterWorkflowWithOptions(Retention, workflow.RegisterOptions{Name: contract.RetentionWorkflow})
}
