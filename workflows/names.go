// Package workflows holds Pitwall's deterministic workflow code: PerfTest
// and the names (task queues, workflow IDs) the rest of Pitwall uses to reach it.
package workflows

import (
	"strconv"

	"github.com/pitwall/pitwall/activities"
)

// CentralQueue is the task queue of the central worker: workflows and the
// activities that touch the database.
const CentralQueue = activities.CentralQueue

// AgentQueue is the host-pinned task queue an agent polls.
func AgentQueue(host string) string { return "agent." + host }

// WorkflowID is the ID of the PerfTest workflow of a test.
func WorkflowID(testID int64) string { return "perftest-" + strconv.FormatInt(testID, 10) }

// LeaseWorkflowID is the ID of the HostLease workflow that guards a host.
func LeaseWorkflowID(host string) string { return "host-lease-" + host }
