package wire

import "github.com/pitwall/pitwall/internal/results"

// ExportFormat names the version of the export document.
const ExportFormat = "pitwall-test-export/v1"

// Export is a test with everything needed to show it on another Pitwall:
// GET /api/v1/tests/{id}/export writes it, POST /api/v1/import reads it.
type Export struct {
	Format    string          `json:"format"`
	Framework FrameworkInfo   `json:"framework"`
	Test      Test            `json:"test"`
	Tables    []results.Table `json:"tables"`
	Series    []Series        `json:"series"`
}
