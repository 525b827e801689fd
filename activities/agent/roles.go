package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/workflows/contract"
)

// What the agent does for multi-host tests (docs/multihost.md): wait for
// a service's "ready" file and read back the histograms a host wrote. (The
// script's supervisor starts it at the common instant: Spec.StartAt.)

// waitFilePoll is how often WaitFile looks for its file.
const waitFilePoll = 50 * time.Millisecond

// WaitFile returns once the file is in the test's results directory (a
// service's "ready"), heartbeating meanwhile; the workflow bounds the wait.
func (a *Activities) WaitFile(ctx context.Context, in contract.WaitFileInput) error {
	defer a.touch(in.TestID)()
	tick := time.NewTicker(waitFilePoll)
	defer tick.Stop()
	beat := time.Now()
	for {
		if root, err := openResultsDir(in.ResultsDir); err == nil {
			_, err := root.Lstat(in.File)
			root.Close()
			if err == nil {
				return nil
			}
		}
		if time.Since(beat) >= HeartbeatInterval {
			activity.RecordHeartbeat(ctx, in.File)
			beat = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// StopScripts stops a test's scripts (a multi-host test's service, once
// the load has ended) and its generators; unlike Kill it leaves the
// profilers, which finish when their script has ended and keep their
// profiles and counters.
func (a *Activities) StopScripts(ctx context.Context, testID int64) error {
	defer a.touch(testID)()
	a.stopRuns(testID)
	return nil
}

// readHistograms reads the histogram files asked for, each as the whole
// run's histogram (an HdrHistogram log's intervals added up), re-encoded
// compactly; a file missing or unreadable is a note.
func readHistograms(root *os.Root, files []string, res *contract.CollectResult) {
	for _, name := range files {
		data, truncated, err := readRegular(root, name, results.MaxHistogramFile)
		var r *refusal
		switch {
		case errors.Is(err, fs.ErrNotExist):
			res.Notes = append(res.Notes, fmt.Sprintf("%s: the script wrote no histogram file", name))
			continue
		case errors.As(err, &r):
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %s; not read", name, r.why))
			continue
		case err != nil:
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %v", name, err))
			continue
		case truncated:
			res.Notes = append(res.Notes, fmt.Sprintf("%s: larger than %d bytes; not read", name, results.MaxHistogramFile))
			continue
		}
		h, err := results.ReadHistogram(data)
		if err == nil {
			var enc string
			if enc, err = results.EncodeHistogram(h); err == nil {
				if res.Histograms == nil {
					res.Histograms = map[string]string{}
				}
				res.Histograms[name] = enc
				continue
			}
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%s: %v", name, err))
	}
}

// maxIntervalRead bounds what one ReadIntervals reads.
const maxIntervalRead = 1 << 20

// ReadIntervals returns the interval histograms a running script appended
// to its HdrHistogram log since in.Offset: whole lines only (a line being
// written is read next time), comments and the legend skipped. A log not
// written yet is no intervals.
func (a *Activities) ReadIntervals(ctx context.Context, in contract.ReadIntervalsInput) (*contract.ReadIntervalsResult, error) {
	res := &contract.ReadIntervalsResult{Offset: in.Offset}
	root, err := openResultsDir(in.ResultsDir)
	if err != nil {
		return res, nil
	}
	defer root.Close()
	f, _, err := openRegular(root, in.File)
	if err != nil {
		return res, nil
	}
	defer f.Close()
	buf := make([]byte, maxIntervalRead)
	n, err := f.ReadAt(buf, in.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", in.File, err)
	}
	buf = buf[:n]
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		return res, nil
	}
	res.Offset += int64(end + 1)
	for line := range strings.SplitSeq(string(buf[:end]), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '"' || !strings.Contains(line, ",") {
			continue
		}
		res.Histograms = append(res.Histograms, line[strings.LastIndexByte(line, ',')+1:])
	}
	return res, nil
}
