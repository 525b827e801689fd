package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/workflows/contract"
)

// MaxResultsCSV bounds how much of results.csv is read for KPIs.
const MaxResultsCSV = 1 << 20

// Collect parses results.csv. A missing or oversized file is a note, not an
// error: the test's other results still count.
func (a *Activities) Collect(ctx context.Context, in contract.CollectInput) (*contract.CollectResult, error) {
	// Waiting for the monitor's flush and uploading take a while on a busy
	// host: the activity heartbeats meanwhile, or its heartbeat timeout
	// (a few seconds) would count the agent as lost.
	defer beating(ctx)()
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
	if err == nil && !in.Discard {
		a.addProfilerKPIs(in.TestID, res)
	}
	if err != nil || !in.Upload {
		return res, err
	}
	if res.Upload, err = a.upload(ctx, in.TestID, in.ResultsDir, in.ArtifactDir); err != nil {
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

// collect reads one run's results.csv, through the confinement: a link,
// FIFO or other odd file in its place is a note, never read.
func (a *Activities) collect(in contract.CollectInput) (*contract.CollectResult, error) {
	res := &contract.CollectResult{}
	root, err := openResultsDir(in.ResultsDir)
	if err != nil {
		return unread(res, "results directory", err)
	}
	defer root.Close()
	// Histograms are read whether or not there is a results.csv: a host
	// stopped mid-run wrote none, but its log holds what it measured.
	defer readHistograms(root, in.Histograms, res)
	if in.Discard {
		// Remove takes a link itself away, never what it points to.
		if err := root.Remove("results.csv"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			res.Notes = append(res.Notes, fmt.Sprintf("results.csv: warm-up results not discarded: %v", err))
		}
		return res, nil
	}
	name, data, truncated, err := readResults(root, in.Iteration)
	if err != nil {
		return unread(res, name, err)
	}
	if truncated {
		res.Notes = append(res.Notes, fmt.Sprintf("results.csv: larger than %d bytes; only the first %d were read", MaxResultsCSV, MaxResultsCSV))
	}
	if in.Iteration > 0 {
		kept := fmt.Sprintf("results.%d.csv", in.Iteration)
		if name != kept {
			note, err := keepIteration(root, kept)
			if err != nil {
				return nil, fmt.Errorf("keep results of iteration %d: %w", in.Iteration, err)
			}
			res.Notes = append(res.Notes, note...)
		}
		name = kept
	}
	kpis, notes := results.ParseKPIs(name, data)
	res.File = name
	for _, k := range kpis {
		res.KPIs = append(res.KPIs, contract.KPI{Name: k.Name, Value: k.Value, Unit: k.Unit, Raw: k.Raw, Line: k.Line})
	}
	for _, n := range notes {
		res.Notes = append(res.Notes, n.String())
	}
	return res, nil
}

// unread notes why results.csv was not read (there is none, or the
// confinement refused it or its directory) or, for any other failure,
// returns the error, so the Collect is retried.
func unread(res *contract.CollectResult, name string, err error) (*contract.CollectResult, error) {
	var r *refusal
	switch {
	case errors.As(err, &r):
		res.Notes = append(res.Notes, fmt.Sprintf("%s: %s; not read", name, r.why))
	case errors.Is(err, fs.ErrNotExist):
		res.Notes = append(res.Notes, contract.NoResultsNote)
	default:
		return nil, err
	}
	return res, nil
}

// readResults reads results.csv or, for a retried Collect of an iteration
// that already moved it, results.N.csv; name is the one read.
func readResults(root *os.Root, iteration int) (name string, data []byte, truncated bool, err error) {
	name = "results.csv"
	data, truncated, err = readRegular(root, name, MaxResultsCSV)
	if errors.Is(err, fs.ErrNotExist) && iteration > 0 {
		name = fmt.Sprintf("results.%d.csv", iteration)
		data, truncated, err = readRegular(root, name, MaxResultsCSV)
	}
	return name, data, truncated, err
}

// keepIteration renames results.csv to kept, so that the next iteration
// starts afresh and this one's file stays as an artifact. A kept name the
// script has already taken with anything but a regular file is left alone,
// and noted: rename(2) would replace a link, never write through it, but
// nothing is gained by touching what the script planted.
func keepIteration(root *os.Root, kept string) (notes []string, err error) {
	info, err := root.Lstat(kept)
	switch {
	case err == nil && !info.Mode().IsRegular():
		return []string{fmt.Sprintf("%s: %s; results.csv not renamed to it", kept, refusalFor(info.Mode()).why)}, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	return nil, root.Rename("results.csv", kept)
}
