package contract

import "time"

// LeaseRequest is a test asking for a host.
type LeaseRequest struct {
	TestID     int64
	WorkflowID string
	// Priority is the test's rank (wire.PriorityRank): higher is served
	// first; 0, normal, is what requests from before priorities carry.
	Priority int
	// MaxWait is how long the request may wait behind higher-priority
	// ones before it is promoted; 0 never promotes. The LeaseAcquire
	// activity sets it from the central worker's configuration.
	MaxWait time.Duration
	// Queued is when the lease workflow took the request in (its own
	// clock); it is kept across continue-as-new with the queue.
	Queued time.Time
	// Quiet says the test recorded its waiting itself (from its host
	// claim, HostPickResult.Waiting): a lease workflow that knows it sends
	// no queued notice, only the grant.
	Quiet bool `json:",omitempty"`
}

// LeaseRelease gives a host back.
type LeaseRelease struct {
	TestID int64
}

// LeaseEvent answers a request: granted, or queued behind Holder.
type LeaseEvent struct {
	Host    string
	Granted bool
	Holder  int64
	// Promoted says the grant went to this test ahead of higher-priority
	// ones because it had waited MaxWait; Waited is how long it waited.
	Promoted bool
	Waited   time.Duration
}

// HostLeaseInput is the state a HostLease workflow starts (or continues) with.
type HostLeaseInput struct {
	Host   string
	Holder *LeaseRequest
	Since  time.Time
	Queue  []LeaseRequest
}

// LeaseRequestInput names the host whose lease workflow gets the request.
type LeaseRequestInput struct {
	Host    string
	Request LeaseRequest
}

// LeaseRecordInput is a change of holder, for pages and the API.
type LeaseRecordInput struct {
	Host   string
	TestID int64
	Since  time.Time
}

// ReleaseLeasesInput gives a test's hosts back from a local activity: one
// signal per host's lease workflow, sent by the Temporal client.
type ReleaseLeasesInput struct {
	TestID int64
	Hosts  []string
}

// LeaseGrantInput hands a host to a waiting test: the grant signal and the
// record of the new holder, in one local activity of the lease workflow.
type LeaseGrantInput struct {
	Host    string
	Request LeaseRequest
	Event   LeaseEvent
	Since   time.Time
}
