package contract

import "time"

// LeaseRequest is a test asking for a host.
type LeaseRequest struct {
	TestID     int64
	WorkflowID string
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
