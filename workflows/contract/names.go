// Package contract is what Pitwall's workflows and activities agree on:
// task queues, workflow IDs and type names, signal names, search
// attributes, the activities by name and type, and every payload that
// crosses workflow history. It is a leaf: it imports the Temporal SDK and
// nothing of Pitwall's, so deterministic code never depends on the store.
package contract

import "strconv"

// CentralQueue is the task queue of the central worker: workflows and the
// activities that touch the database or the Temporal client.
const CentralQueue = "pitwall"

// AgentQueue is the host-pinned task queue an agent polls.
func AgentQueue(host string) string { return "agent." + host }

// Registered names of the workflows.
const (
	// PerfTestWorkflow runs one test (workflows.PerfTest).
	PerfTestWorkflow = "PerfTest"
	// HostLeaseWorkflow guarded one host (workflows.HostLease) before the
	// lease moved to the database (LeaseTake); none is started any more.
	HostLeaseWorkflow = "HostLease"
)

// WorkflowID is the ID of the PerfTest workflow of a test.
func WorkflowID(testID int64) string { return "perftest-" + strconv.FormatInt(testID, 10) }

// LeaseWorkflowID is the ID of the HostLease workflow that guards a host.
func LeaseWorkflowID(host string) string { return "host-lease-" + host }

// Signal names.
const (
	// SignalAbort asks a PerfTest to stop; its payload is an AbortRequest.
	SignalAbort = "abort"
	// SignalLeaseAcquire asks a HostLease workflow for its host; its
	// payload is a LeaseRequest.
	SignalLeaseAcquire = "acquire"
	// SignalLeaseRelease gives the host back (or leaves the queue); its
	// payload is a LeaseRelease.
	SignalLeaseRelease = "release"
	// SignalLease tells a PerfTest how its request stands; its payload is
	// a LeaseEvent.
	SignalLease = "lease"
)

// QueryProgress asks a PerfTest how far its runs are; the answer is a
// Progress. A query adds nothing to the workflow's history.
const QueryProgress = "progress"

// Error types of application errors that workflows look at or that users read.
const (
	// ErrNoHost is the error type of a test that has nowhere to run.
	ErrNoHost = "NoHost"
	// ErrBadScript is the error type of a script that cannot run at all.
	ErrBadScript = "BadScript"
	// ErrSetup is the error type of a Setup folded into the first Execute
	// that failed: the message is the setup's own.
	ErrSetup = "SetupFailed"
	// ErrNotFound is the error type of a test that does not exist.
	ErrNotFound = "NotFound"
	// ErrSupervisorLost is the error type of a run whose supervisor is
	// gone without saying how the script ended.
	ErrSupervisorLost = "SupervisorLost"
	// ErrAgentStopping is the error type of an Execute whose agent is
	// stopping while the script runs on: a later attempt re-attaches.
	ErrAgentStopping = "AgentStopping"
	// ErrContainers is the error type of a test's containers that could not
	// be made ready (a build that failed, a service that never became
	// ready, no Docker engine on the agent): not worth retrying.
	ErrContainers = "Containers"
	// ErrNoIsolation is the error type of an agent that cannot run a
	// script as its own user and was not told it may.
	ErrNoIsolation = "NoIsolation"
)
