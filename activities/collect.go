package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pitwall/pitwall/internal/results"
)

// CollectInput names the results directory of a finished script.
type CollectInput struct {
	TestID     int64
	ResultsDir string
	// Iteration > 0 keeps this run's results.csv as results.<n>.csv so the
	// next run starts without one; Discard drops it (a warm-up run).
	Iteration int
	Discard   bool
	// After the test's last run, Collect also does what would otherwise
	// take the workflow three more tasks: StopMonitor ends this host's
	// monitor first, Upload sends the results directory as artifacts
	// afterwards (what the Upload activity does), and Cleanup then removes
	// the test's directory (when no before_cleanup hook needs it).
	StopMonitor bool
	Upload      bool
	Cleanup     bool
}

// CollectResult is what the agent read from the results directory.
type CollectResult struct {
	KPIs  []results.KPI
	Notes []string
	// Upload is set when the input asked for the upload.
	Upload *UploadResult
}

// MaxResultsCSV bounds how much of results.csv is read for KPIs.
const MaxResultsCSV = 1 << 20

// Collect parses results.csv. A missing or oversized file is a note, not an
// error: the test's other results still count.
func (a *Activities) Collect(ctx context.Context, in CollectInput) (*CollectResult, error) {
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
		a.mu.Lock()
		res, ok := a.collected.get(in.TestID)
		a.mu.Unlock()
		if ok {
			return res, nil // a retry after the directory was removed
		}
	}
	res, err := a.collect(in)
	if err != nil || !in.Upload {
		return res, err
	}
	if res.Upload, err = a.Upload(ctx, UploadInput{TestID: in.TestID, ResultsDir: in.ResultsDir}); err != nil {
		return nil, err
	}
	if in.Cleanup {
		if err := a.Cleanup(ctx, in.TestID); err != nil {
			return nil, err
		}
		a.mu.Lock()
		a.collected.put(in.TestID, res)
		a.mu.Unlock()
	}
	return res, nil
}

// collect reads one run's results.csv.
func (a *Activities) collect(in CollectInput) (*CollectResult, error) {
	res := &CollectResult{}
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
	res.KPIs = kpis
	for _, n := range notes {
		res.Notes = append(res.Notes, n.String())
	}
	return res, nil
}
