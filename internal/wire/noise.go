package wire

import "time"

// States of a noise measurement (an A/A series of one framework on one
// host).
const (
	NoiseRunning   = "running"
	NoiseFinished  = "finished"
	NoiseFailed    = "failed"
	NoiseCancelled = "cancelled"
)

// ArmAA marks the runs of a noise measurement: the same commit again and
// again, kept out of baselines, trends, change points and alerts.
const ArmAA = "AA"

// NoiseRequest asks for an A/A measurement of a host
// (POST /api/v1/agents/{name}/noise).
type NoiseRequest struct {
	// Framework is the framework to run, of a team the caller is a member of.
	Framework string `json:"framework"`
	// Team is the framework's team; it may be left out when the caller
	// has one team with a framework of that name.
	Team string `json:"team,omitempty"`
	// Runs is how many times to run it: 2-50, 10 when left out.
	Runs int `json:"runs,omitempty"`
	// Commit reaches the script as PITWALL_COMMIT.
	Commit string `json:"commit,omitempty"`
	// Params set the framework's parameters, as a test's do.
	Params map[string]string `json:"params,omitempty"`
}

// NoiseMeasurement is one A/A series and what it measured.
type NoiseMeasurement struct {
	ID        int64      `json:"id"`
	Host      string     `json:"host"`
	Framework string     `json:"framework"`
	Team      string     `json:"team"`
	Commit    string     `json:"commit"`
	Runs      int        `json:"runs"`
	State     string     `json:"state"`
	Reason    string     `json:"reason"`
	StartedBy string     `json:"started_by"`
	CreatedAt time.Time  `json:"created_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Floors    []NoiseKPI `json:"floors"`
	Tests     []int64    `json:"tests"`
	URL       string     `json:"url,omitempty"`
}

// NoiseKPI is one KPI's noise on a host from one measurement: the CV of
// its runs with the interval at level Confidence, and whether it jumped
// against the host's earlier measurements of the framework.
type NoiseKPI struct {
	MeasurementID int64     `json:"measurement_id"`
	Host          string    `json:"host"`
	Framework     string    `json:"framework"`
	Team          string    `json:"team"`
	KPI           string    `json:"kpi"`
	CV            float64   `json:"cv"`
	CVLow         float64   `json:"cv_low"`
	CVHigh        float64   `json:"cv_high"`
	Confidence    float64   `json:"confidence"`
	N             int       `json:"n"`
	Jumped        bool      `json:"jumped"`
	Evidence      string    `json:"evidence"`
	MeasuredAt    time.Time `json:"measured_at"`
}

// HostNoise is a host's noise (GET /api/v1/agents/{name}/noise): the
// latest floor of each framework and KPI, whether any jumped, and the
// measurements, newest first.
type HostNoise struct {
	Host     string `json:"host"`
	Excluded bool   `json:"excluded"`
	// ExcludedReason is why a site admin excluded it.
	ExcludedReason string             `json:"excluded_reason"`
	Flagged        bool               `json:"flagged"`
	Latest         []NoiseKPI         `json:"latest"`
	Measurements   []NoiseMeasurement `json:"measurements"`
}

// ExcludeRequest excludes a host from host picking or lets it back
// (PUT /api/v1/agents/{name}/excluded).
type ExcludeRequest struct {
	Excluded bool   `json:"excluded"`
	Reason   string `json:"reason,omitempty"`
}
