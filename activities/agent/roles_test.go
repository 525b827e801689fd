package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/workflows/contract"
)

// ReadIntervals returns the whole interval lines appended since the last
// offset, skipping comments and the legend, and leaves a line being
// written for the next look.
func TestReadIntervals(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "results")
	require.NoError(t, os.Mkdir(dir, 0o755))
	a := &Activities{}
	in := contract.ReadIntervalsInput{ResultsDir: dir, File: "latency.hlog"}
	got, err := a.ReadIntervals(context.Background(), in)
	require.NoError(t, err)
	require.Empty(t, got.Histograms, "no log yet")

	log := "#[Histogram log format version 1.3]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n" +
		"0.000,1.000,100.0,HISTAAA\nTag=x,1.000,1.000,100.0,HISTBBB\n2.000,1.0"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "latency.hlog"), []byte(log), 0o644))
	got, err = a.ReadIntervals(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, []string{"HISTAAA", "HISTBBB"}, got.Histograms)

	f, err := os.OpenFile(filepath.Join(dir, "latency.hlog"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("00,100.0,HISTCCC\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	in.Offset = got.Offset
	got, err = a.ReadIntervals(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, []string{"HISTCCC"}, got.Histograms, "the line finished since is read whole")
}
