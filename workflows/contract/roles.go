package contract

import "time"

// RolesPickInput asks for the hosts of a multi-host test's roles.
type RolesPickInput struct {
	TestID int64
	Roles  []RoleWant
}

// RoleWant is what one role asks for: named hosts, or Count online agents
// with Labels.
type RoleWant struct {
	Name   string
	Hosts  []string
	Labels map[string]string
	Count  int
}

// RolesPickResult names each role's hosts, in the roles' order.
type RolesPickResult struct {
	Roles []RoleHosts
}

// RoleHosts is one role and the hosts that play it.
type RoleHosts struct {
	Name  string
	Hosts []string
}

// WaitFileInput waits until a file appears in a test's results directory
// (a service's "ready").
type WaitFileInput struct {
	TestID     int64
	ResultsDir string
	File       string
}

// RoleRun is how one host's script ran in a multi-host test.
type RoleRun struct {
	Role      string
	Host      string
	StartedAt time.Time
	EndedAt   time.Time
	ExitCode  int
}

// The activities of multi-host tests.
var (
	// RolesPick chooses the hosts of every role (central).
	RolesPick = Activity[RolesPickInput, *RolesPickResult]{"RolesPick"}
	// WaitFile returns once a file is in the results directory (agent).
	WaitFile = Action[WaitFileInput]{"WaitFile"}
	// StopScripts stops a test's scripts on the host as Kill does, but
	// lets their profilers finish and keep their output: the end of a
	// service's run, not an abort (agent).
	StopScripts = Action[int64]{"StopScripts"}
)

// ReadIntervalsInput asks for what a host appended to a histogram log
// since Offset.
type ReadIntervalsInput struct {
	TestID     int64
	ResultsDir string
	File       string
	Offset     int64
}

// ReadIntervalsResult are the whole lines appended since the input's
// offset that hold an interval histogram (each line's last field, base64
// V2), and the offset to ask from next.
type ReadIntervalsResult struct {
	Histograms []string
	Offset     int64
}

// ReadIntervals reads a running host's new interval histograms (agent).
var ReadIntervals = Activity[ReadIntervalsInput, *ReadIntervalsResult]{"ReadIntervals"}
