package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/wire"
)

// points makes a series of n points from t0 (Unix ms) every step ms, with
// small whole values so sums are exact.
func points(metric string, t0, step int64, n int) ingest.Series {
	s := ingest.Series{Metric: metric}
	for i := range n {
		s.TS = append(s.TS, t0+int64(i)*step)
		s.Values = append(s.Values, float64((int(t0/step)+i)%17))
	}
	return s
}

func TestSampleIngestWritesChunksOnce(t *testing.T) {
	t.Parallel()
	st, id := setup(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixMilli()
	b := &ingest.Samples{Header: ingest.Header{TestID: id, Host: "h1", Batch: "b1"}, Series: []ingest.Series{
		points("long", t0, 1000, 4500),
		{Metric: "shuffled", TS: []int64{t0 + 2, t0, t0 + 1}, Values: []float64{3, 1, 2}},
		{Metric: "empty"},
	}}
	n, err := st.SampleIngest(ctx, b)
	require.NoError(t, err)
	require.Equal(t, 4503, n)
	n, err = st.SampleIngest(ctx, b)
	require.NoError(t, err)
	require.Zero(t, n, "a retried batch is written once")

	rows, err := testPool.Query(ctx, `SELECT metric, n, (sample_ts(first_ts, dts))[1], batch FROM sample_chunks WHERE test_id = $1 ORDER BY metric, first_ts`, id)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var (
			metric, batch string
			n             int
			first         int64
		)
		require.NoError(t, rows.Scan(&metric, &n, &first, &batch))
		got = append(got, fmt.Sprintf("%s %d +%d %s", metric, n, first-t0, batch))
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"long 2000 +0 b1", "long 2000 +2000000 b1", "long 500 +4000000 b1", "shuffled 3 +0 b1"}, got,
		"one chunk per 2,000 points, sorted; no chunk for an empty series")

	counts, err := st.SampleCount(ctx, id)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"h1": 4503}, counts)

	all, err := st.SeriesAll(ctx, id)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, wire.Series{Host: "h1", Metric: "shuffled", TS: []int64{t0, t0 + 1, t0 + 2}, Values: []float64{1, 2, 3}}, all[1])
	require.Len(t, all[0].TS, 4500)
	require.True(t, slices.IsSorted(all[0].TS))
}

// TestSeriesMergesChunks stores one series in batches that arrive out of
// order and overlap, and checks the readers see one time-ordered series,
// averaged into buckets as the points would be had they come in order.
func TestSeriesMergesChunks(t *testing.T) {
	t.Parallel()
	st, id := setup(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixMilli()
	// Every batch adds points at times no other batch has.
	batches := [][]ingest.Series{
		{points("cpu", t0+60_000, 1000, 30), points("mem", t0, 1000, 5), points("gap", t0+1000, 99_000, 2)},
		{points("cpu", t0, 1000, 60)},
		{points("cpu", t0+10_500, 1000, 40)}, // overlaps both
		{points("cpu", t0+200_000, 1000, 3)},
	}
	var want []wire.Series // what the readers should return, built naively
	for i, series := range batches {
		_, err := st.SampleIngest(ctx, &ingest.Samples{Header: ingest.Header{TestID: id, Host: "h", Batch: fmt.Sprint(i)}, Series: series})
		require.NoError(t, err)
		for _, s := range series {
			k := slices.IndexFunc(want, func(w wire.Series) bool { return w.Metric == s.Metric })
			if k < 0 {
				want = append(want, wire.Series{Host: "h", Metric: s.Metric})
				k = len(want) - 1
			}
			want[k].TS = append(want[k].TS, s.TS...)
			want[k].Values = append(want[k].Values, s.Values...)
		}
	}
	for k := range want {
		sortSeries(&want[k])
	}
	slices.SortFunc(want, func(a, b wire.Series) int { return cmp.Compare(a.Metric, b.Metric) })

	all, err := st.SeriesAll(ctx, id)
	require.NoError(t, err)
	require.Equal(t, want, all)

	from, to, ok, err := st.SeriesRange(ctx, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, t0, from.UnixMilli())
	require.Equal(t, t0+202_000, to.UnixMilli())

	// A window that cuts chunks, in buckets of 7 s; mem and gap have no point
	// in it, though gap's chunk spans it.
	q := SeriesQuery{TestID: id, Metric: "*", From: time.UnixMilli(t0 + 5_000), To: time.UnixMilli(t0 + 80_250), Step: 7 * time.Second}
	got, err := st.SeriesGet(ctx, q)
	require.NoError(t, err)
	cpu := want[0]
	var bucketed wire.Series
	for _, ts := range cpu.TS {
		if ts < q.From.UnixMilli() || ts > q.To.UnixMilli() {
			continue
		}
		start := q.From.UnixMilli() + (ts-q.From.UnixMilli())/7000*7000
		if n := len(bucketed.TS); n == 0 || bucketed.TS[n-1] != start {
			bucketed.TS = append(bucketed.TS, start)
			bucketed.Values = append(bucketed.Values, 0)
		}
	}
	for j, start := range bucketed.TS {
		sum, n := 0.0, 0
		for i, ts := range cpu.TS {
			if ts >= max(start, q.From.UnixMilli()) && ts < start+7000 && ts <= q.To.UnixMilli() {
				sum += cpu.Values[i]
				n++
			}
		}
		bucketed.Values[j] = sum / float64(n)
	}
	require.Equal(t, []wire.Series{{Host: "h", Metric: "cpu", TS: bucketed.TS, Values: bucketed.Values}}, got)

	got, err = st.SeriesGet(ctx, SeriesQuery{TestID: id, Metric: "cpu", Host: "other", From: from, To: to, Step: time.Second})
	require.NoError(t, err)
	require.Empty(t, got)
}

// TestSampleCompactMergesSmallChunks sends what a monitor sends, a point
// of each series a batch, and checks compaction leaves the series as they
// were in a few chunks.
func TestSampleCompactMergesSmallChunks(t *testing.T) {
	t.Parallel()
	st, id := setup(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixMilli()
	send := func(batch string, series ...ingest.Series) {
		t.Helper()
		_, err := st.SampleIngest(ctx, &ingest.Samples{Header: ingest.Header{TestID: id, Host: "h", Batch: batch}, Series: series})
		require.NoError(t, err)
	}
	send("big", points("cpu", t0, 1000, 3000))
	for i := range 2100 {
		if i == 7 {
			continue // arrives late, below
		}
		send(fmt.Sprint(i), points("mem", t0+int64(i)*1000, 1000, 1), points("load", t0+int64(i)*1000+500, 1000, 1))
	}
	send("late", points("mem", t0+7000, 1000, 1), points("load", t0+7500, 1000, 1))
	_, other := setup(t)
	_, err := st.SampleIngest(ctx, &ingest.Samples{Header: ingest.Header{TestID: other, Host: "h", Batch: "x"}, Series: []ingest.Series{points("mem", t0, 1000, 1)}})
	require.NoError(t, err)
	before, err := st.SeriesAll(ctx, id)
	require.NoError(t, err)

	require.NoError(t, st.SampleCompact(ctx, id, "h"))
	after, err := st.SeriesAll(ctx, id)
	require.NoError(t, err)
	require.Equal(t, before, after, "the same points in the same order")
	chunks := func(test int64) map[string][]int {
		rows, err := testPool.Query(ctx, `SELECT metric, n FROM sample_chunks WHERE test_id = $1 ORDER BY metric, first_ts`, test)
		require.NoError(t, err)
		out := map[string][]int{}
		for rows.Next() {
			var m string
			var n int
			require.NoError(t, rows.Scan(&m, &n))
			out[m] = append(out[m], n)
		}
		require.NoError(t, rows.Err())
		return out
	}
	require.Equal(t, map[string][]int{"cpu": {2000, 1000}, "mem": {2000, 100}, "load": {2000, 100}}, chunks(id))
	require.Equal(t, map[string][]int{"mem": {1}}, chunks(other), "other tests are left alone")

	// A series of one small chunk (a short test's) is not written again.
	_, err = st.SampleIngest(ctx, &ingest.Samples{Header: ingest.Header{TestID: other, Host: "h", Batch: "y"},
		Series: []ingest.Series{points("cpu", t0, 1000, 3)}})
	require.NoError(t, err)
	written := func() map[string]string {
		rows, err := testPool.Query(ctx, `SELECT metric, batch || ' ' || xmin::text FROM sample_chunks WHERE test_id = $1`, other)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kv [2]string, err error) {
			return kv, r.Scan(&kv[0], &kv[1])
		})
		require.NoError(t, err)
		m := map[string]string{}
		for _, kv := range out {
			m[kv[0]] = kv[1]
		}
		return m
	}
	was := written()
	require.NoError(t, st.SampleCompact(ctx, other, "h"))
	require.Equal(t, was, written(), "the same rows, by the same transactions")
	require.Equal(t, map[string][]int{"mem": {1}, "cpu": {3}}, chunks(other))
}

// BenchmarkSampleIngest writes batches of 10 series × 1,000 points, as the
// ingest endpoint does after decoding, and reports samples/s.
func BenchmarkSampleIngest(b *testing.B) {
	st, id := setup(b)
	ctx := context.Background()
	t0 := time.Now().UnixMilli()
	series := make([]ingest.Series, 10)
	for k := range series {
		series[k] = points(fmt.Sprintf("bench.m%02d", k), t0, 1000, 1000)
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := st.SampleIngest(ctx, &ingest.Samples{Header: ingest.Header{TestID: id, Host: "h", Batch: fmt.Sprint(i)}, Series: series}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i*10*1000)/b.Elapsed().Seconds(), "samples/s")
}
