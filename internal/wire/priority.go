package wire

// Test priorities: a host's queue serves higher ones first, and a test
// that has waited the configured limit behind higher ones is promoted.
// Tests default to normal; pull-request runs are high and nightly
// schedules low.
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityHigh   = "high"
)

// Priorities lists the priorities from lowest to highest.
var Priorities = []string{PriorityLow, PriorityNormal, PriorityHigh}

// PriorityRank orders priorities for the host queue: low -1, normal 0,
// high 1. Normal is 0 so that lease requests that carry no priority (from
// before priorities) are normal; an unknown name is normal too.
func PriorityRank(name string) int {
	switch name {
	case PriorityLow:
		return -1
	case PriorityHigh:
		return 1
	}
	return 0
}

// ValidPriority reports whether name is a priority; "" is not.
func ValidPriority(name string) bool {
	switch name {
	case PriorityLow, PriorityNormal, PriorityHigh:
		return true
	}
	return false
}

// StagePromoted is the timeline stage of a test that was served ahead of
// higher-priority tests because it had waited the promotion limit.
const StagePromoted = "promoted"
