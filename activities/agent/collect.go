package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/workflows/contract"
)

// MaxResultsCSV bounds how much of results.csv is read for KPIs.
const MaxResultsCSV = 1 << 20

// Collect parses results.csv. A missing or oversized file is a note, not an
// error: the test's other results still count.
func (a *Activities) Collect(ctx context.Context, in contract.CollectInput) (*contract.CollectResult, error) {
	if in.StopMonitor {
		// Waiting for the monitor's flush lets its completion reach the
		// workflow with this one's, in one workflow task.
		if done := a.stopMonitor(in.TestID); done != nil {
			select {
			case <-done:
			case <-time.After(logFlushWait):
			}
		}
	}
	if in.Cleanup {
		var res *contract.CollectResult
		a.state.with(in.TestID, func(ts *testState) { res = ts.collected })
		if res != nil {
			return res, nil // a retry after the directory was removed
		}
	}
	res, err := a.collect(in)
	if err != nil || !in.Upload {
		return res, err
	}
	if res.Upload, err = a.upload(ctx, in.TestID, in.ResultsDir); err != nil {
		return nil, err
	}
	if in.Cleanup {
		if err := a.Cleanup(ctx, in.TestID); err != nil {
			return nil, err
		}
		a.state.keepCollected(in.TestID, res)
	}
	return res, nil
}

// collect reads one run's results.csv.
func (a *Activities) collect(in contract.CollectInput) (*contract.CollectResult, error) {
	res := &contract.CollectResult{}
	path := filepath.Join(in.ResultsDir, "results.csv")
	if in.Discard {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("discard warm-up results: %w", err)
		}
		return res, nil
	}
	kept := filepath.Join(in.ResultsDir, fmt.Sprintf("results.%d.csv", in.Iteration))
	if in.Iteration > 0 {
		// A retried Collect finds the file already moved.
		if _, err := os.Stat(kept); err == nil {
			path = kept
		}
	}
	f, err := os.Open(path)
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
	if in.Iteration > 0 && path != kept {
		if err := os.Rename(path, kept); err != nil {
			return nil, fmt.Errorf("keep results of iteration %d: %w", in.Iteration, err)
		}
	}
	name := "results.csv"
	if in.Iteration > 0 {
		name = filepath.Base(kept)
	}
	kpis, notes := results.ParseKPIs(name, data)
	for _, k := range kpis {
		res.KPIs = append(res.KPIs, contract.KPI{Name: k.Name, Value: k.Value, Unit: k.Unit, Raw: k.Raw})
	}
	for _, n := range notes {
		res.Notes = append(res.Notes, n.String())
	}
	return res, nil
}
