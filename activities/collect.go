package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pitwall/pitwall/internal/results"
)

// CollectInput names the results directory of a finished script.
type CollectInput struct {
	TestID     int64
	ResultsDir string
}

// CollectResult is what the agent read from the results directory.
type CollectResult struct {
	KPIs  []results.KPI
	Notes []string
}

// MaxResultsCSV bounds how much of results.csv is read for KPIs.
const MaxResultsCSV = 1 << 20

// Collect parses results.csv. A missing or oversized file is a note, not an
// error: the test's other results still count.
func (a *Activities) Collect(ctx context.Context, in CollectInput) (*CollectResult, error) {
	res := &CollectResult{}
	f, err := os.Open(filepath.Join(in.ResultsDir, "results.csv"))
	if errors.Is(err, os.ErrNotExist) {
		res.Notes = append(res.Notes, "results.csv: the script wrote no results.csv, so the test has no KPIs")
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open results.csv: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxResultsCSV+1))
	if err != nil {
		return nil, fmt.Errorf("read results.csv: %w", err)
	}
	if len(data) > MaxResultsCSV {
		data = data[:MaxResultsCSV]
		res.Notes = append(res.Notes, fmt.Sprintf("results.csv: larger than %d bytes; only the first %d were read", MaxResultsCSV, MaxResultsCSV))
	}
	kpis, notes := results.ParseKPIs("results.csv", data)
	res.KPIs = kpis
	for _, n := range notes {
		res.Notes = append(res.Notes, n.String())
	}
	return res, nil
}
