package contract

import "time"

// InterferenceSpan is when one interference generator actually loaded a
// host during a script run, as the agent saw it: it becomes two stages of
// the test's timeline and a band on its charts.
type InterferenceSpan struct {
	// Kind is the generator's kind (framework.Interference*); Index its
	// place in the framework's interference list.
	Kind  string
	Index int
	Host  string
	// Command is the generator's argv, for the timeline.
	Command []string
	// Began and Stopped are when its process started and when every
	// process of it was gone; Began is zero when it never started.
	Began, Stopped time.Time
	// Why says how it ended: "script ended", "its duration", "aborted",
	// or that it exited early and with what.
	Why string
}

// InterferenceStageBegan and InterferenceStageStopped end the names of the
// timeline stages of a generator ("interference cpu began"); the charts
// shade the time between them.
const (
	InterferenceStageBegan   = " began"
	InterferenceStageStopped = " stopped"
)

// ErrInterference is the type of the error that fails a test whose
// interference generators cannot run on its agent (a missing program).
const ErrInterference = "Interference"
