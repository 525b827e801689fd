package wire

import "time"

// Retention is GET/PUT /api/v1/teams/{team}/retention: how long a team's
// data is kept (docs/retention.md).
type Retention struct {
	Team string `json:"team,omitempty"`
	// RawDays keeps raw samples, Rollup10sDays and Rollup1mDays the
	// 10-second and 1-minute roll-ups, LogDays output lines.
	RawDays       int `json:"raw_days"`
	Rollup10sDays int `json:"rollup_10s_days"`
	Rollup1mDays  int `json:"rollup_1m_days"`
	LogDays       int `json:"log_days"`
	// ArtifactMaxBytes bounds the team's artifacts; past it the oldest
	// unprotected tests' artifacts go.
	ArtifactMaxBytes int64 `json:"artifact_max_bytes"`
	// Default says the team has set nothing and these are the defaults.
	Default bool `json:"default,omitempty"`
}

// TestRetention is GET /api/v1/tests/{id}/retention and the answer to
// pinning: whether retention keeps the test's data and what it removed.
type TestRetention struct {
	ID     int64 `json:"id"`
	Pinned bool  `json:"pinned"`
	// Kept names why retention keeps the test's samples and logs whatever
	// their age: pinned, baseline, running, alert.
	Kept               []string   `json:"kept"`
	RolledUpAt         *time.Time `json:"rolled_up_at,omitempty"`
	RawExpiredAt       *time.Time `json:"raw_expired_at,omitempty"`
	LogsExpiredAt      *time.Time `json:"logs_expired_at,omitempty"`
	ArtifactsExpiredAt *time.Time `json:"artifacts_expired_at,omitempty"`
}
