package workflows

import "go.temporal.io/sdk/worker"

// Register registers every workflow on a central worker.
func Register(w worker.Registry) {
	w.RegisterWorkflow(PerfTest)
	w.RegisterWorkflow(HostLease)
}
